/**
 * `node --initial-old-space-size=48 --import tsx bench/loadCurve.ts [--scenario 1x1920x1080]
 * [--loads 0.2,0.3,...] [--seconds 15] [--out PREFIX]`: latency against load. Each step offers
 * the cameras together a share of the raw loop's tiles/s measured just before it, runs the real
 * pipeline (bench/scenario.ts) and records the inference workers' busy share, p50/p99 latency,
 * the latency budget (batch_max_wait_ms + two full batches of the raw loop) and drops. Where p99
 * leaves the budget is the load to stay under; the daemon shows the same busy share as
 * `linewatch_inference_busy_ratio`. Prints one JSON object; with --out also PREFIX.json and
 * PREFIX.png (latency against busy share). Progress and ETA on stderr. Not a test.
 */
import { writeFileSync } from "node:fs";
import { basename } from "node:path";
import { parseArgs } from "node:util";
import { defaultModelDir } from "../src/config/load.js";
import { pipelineSchema } from "../src/config/service.js";
import { writeLoadChart } from "./chart.js";
import { rawThroughWorker } from "./raw.js";
import { runScenario, withRaw, type ScenarioResult } from "./scenario.js";
import { openCpuEngine, parseScenario, quietLog } from "./setup.js";
import { round } from "./stats.js";

const { values: a } = parseArgs({
  options: {
    scenario: { type: "string", default: "1x1920x1080" },
    loads: { type: "string", default: "0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9" },
    seconds: { type: "string", default: "15" },
    warmup: { type: "string", default: "4" },
    "raw-seconds": { type: "string", default: "4" },
    batch: { type: "string", default: "8" },
    workers: { type: "string", default: "2" },
    model: { type: "string", default: defaultModelDir },
    out: { type: "string" },
  },
});
const sc = parseScenario(String(a.scenario));
const { cameras, width, height, tiling } = sc;
const loads = String(a.loads).split(",").map(Number);
if (loads.some((l) => !(l > 0 && l <= 2))) throw new Error("--loads are shares of the raw rate in (0, 2]");
const settings = pipelineSchema.parse({ batch_max_tiles: Number(a.batch) });
const engine = await openCpuEngine(String(a.model), 1, Number(a.workers));
const rawS = Number(a["raw-seconds"]);
const per = Number(a.warmup) + Number(a.seconds) + rawS;
const t0 = performance.now();
let before = await rawThroughWorker(engine, settings.batch_max_tiles, rawS);
const steps: (ScenarioResult & { load_offered: number })[] = [];
for (const [i, load] of loads.entries()) {
  const fps = round(sc.fpsFor(load * before.tiles_per_s), 2);
  const s = await runScenario({ cameras, width, height, fps_in: fps, tiling, warmup_s: Number(a.warmup), seconds: Number(a.seconds) }, engine, settings, quietLog, before, () => {});
  const after = await rawThroughWorker(engine, settings.batch_max_tiles, rawS);
  const r = { load_offered: load, ...withRaw(s, before, after) };
  steps.push(r);
  before = after;
  const left = per * (loads.length - i - 1);
  process.stderr.write(`load ${load} (${fps} fps a camera): busy ${r.model_busy}, ${r.tiles_per_s} tiles/s, p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms, budget ${r.latency_budget_ms} ms, dropped ${r.dropped}, raw ${r.raw_tiles_per_s}  (step ${i + 1}/${loads.length}, ETA ${Math.round(left)} s)\n`);
}
await engine.close();
const result = {
  at: new Date().toISOString(),
  scenario: a.scenario,
  batch_max_tiles: settings.batch_max_tiles,
  batch_max_wait_ms: settings.batch_max_wait_ms,
  workers: Number(a.workers),
  seconds: Number(a.seconds),
  wall_s: Math.round((performance.now() - t0) / 1000),
  steps: steps.map((r) => ({ load_offered: r.load_offered, fps_in: r.fps_in, model_busy: r.model_busy, tiles_per_s: r.tiles_per_s, p50_ms: r.p50_ms, p95_ms: r.p95_ms, p99_ms: r.p99_ms, latency_budget_ms: r.latency_budget_ms, within_budget: r.p99_ms <= r.latency_budget_ms, dropped: r.dropped, loop_lag_p99_ms: r.loop_lag_p99_ms, main_thread_cores: r.main_thread_cores, raw_tiles_per_s: r.raw_tiles_per_s, steal: r.steal })),
};
process.stdout.write(JSON.stringify(result) + "\n");
if (a.out) {
  writeFileSync(`${a.out}.json`, `${JSON.stringify({ label: basename(a.out), ...result }, null, 1)}\n`);
  await writeLoadChart(`${a.out}.png`, steps, `${basename(a.out)}: ${a.scenario}, ${a.workers} workers of 1 thread, batch ${settings.batch_max_tiles}, ${a.seconds} s a step (${result.at})`);
  process.stderr.write(`wrote ${a.out}.json and .png\n`);
}
