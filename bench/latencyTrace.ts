/**
 * `node --initial-old-space-size=48 --import tsx bench/latencyTrace.ts [--scenario 1x1920x1080]
 * [--load 0.7] [--seconds 30] [--rounds 2]`: where a scenario's latency tail comes from. Offers the
 * cameras together `--load` of the raw loop's tiles/s and prints, per round, the figures of the
 * window and each second's largest latency with how many frames of that second went over the
 * budget (batch_max_wait_ms + two full batches of the raw loop). A tail spread over every second is
 * the pipeline's own; one packed into a few seconds is a slow spell of the box and the queue it
 * leaves. Not a test.
 */
import { parseArgs } from "node:util";
import { defaultModelDir } from "../src/config/load.js";
import { pipelineSchema } from "../src/config/service.js";
import { rawThroughWorker } from "./raw.js";
import { runScenario } from "./scenario.js";
import { openCpuEngine, parseScenario, quietLog } from "./setup.js";

const { values: a } = parseArgs({
  options: {
    scenario: { type: "string", default: "1x1920x1080" },
    load: { type: "string", default: "0.7" },
    seconds: { type: "string", default: "30" },
    rounds: { type: "string", default: "2" },
    workers: { type: "string", default: "2" },
    model: { type: "string", default: defaultModelDir },
  },
});
const sc = parseScenario(String(a.scenario));
const { cameras, width, height, tiling } = sc;
const settings = pipelineSchema.parse({ batch_max_tiles: 8 });
const engine = await openCpuEngine(String(a.model), 1, Number(a.workers));
const rounds = Number(a.rounds);
for (let r = 0; r < rounds; r++) {
  const raw = await rawThroughWorker(engine, settings.batch_max_tiles, 4);
  const fps = sc.fpsFor(Number(a.load) * raw.tiles_per_s);
  const perSecond = new Map<number, number[]>();
  let first: number | null = null;
  const s = await runScenario({ cameras, width, height, fps_in: fps, tiling, warmup_s: 4, seconds: Number(a.seconds), on_decision: (captured, ms) => {
    first ??= captured;
    const k = Math.floor((captured - first) / 1000);
    (perSecond.get(k) ?? perSecond.set(k, []).get(k)!).push(ms);
  } }, engine, settings, quietLog, raw, () => {});
  const budget = s.latency_budget_ms;
  const all = [...perSecond.values()].flat();
  process.stdout.write(`round ${r + 1}/${rounds}: raw ${raw.tiles_per_s} tiles/s, ${fps.toFixed(1)} fps a camera, busy ${s.model_busy}, p50 ${s.p50_ms} ms, p99 ${s.p99_ms} ms, budget ${budget} ms, frames ${all.length}, over budget ${all.filter((l) => l > budget).length}, dropped ${s.dropped}, loop lag p99 ${s.loop_lag_p99_ms} ms, steal ${s.steal}\n`);
  process.stdout.write(`  second:max ms(frames over budget) ${[...perSecond.entries()].map(([k, ls]) => `${k}:${Math.round(Math.max(...ls))}(${ls.filter((l) => l > budget).length})`).join(" ")}\n`);
}
await engine.close();
