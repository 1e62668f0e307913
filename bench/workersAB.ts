/**
 * Paired comparison of inference-worker layouts (not in CI): `node --initial-old-space-size=48
 * --import tsx bench/workersAB.ts [--layouts 1x2,2x1] [--rounds 6] [--seconds 10] [--scenario 4x1280x720]
 * [--fps F]`. A layout `2x1:wait` is 2x1 with the pipeline's early send off, `2x1:cap24` with at most
 * 24 tiles let into flight by the gate (same engine).
 *
 * This box's speed drifts by tens of percent within minutes, so two bench runs minutes apart
 * cannot tell a 10 % change. Here every layout (workers x intra-op threads) is opened once in the
 * same process and the same saturated scenario runs for each in turn, round after round, each
 * window between raw loops of that layout; per round the layouts' figures are a pair taken
 * within a minute. Prints per round and the median over rounds: pipeline tiles/s, raw tiles/s
 * (the layout's own loop, mean of before and after), their ratio, main-thread cores, RSS, p50
 * and p99 latency. `--fps` offers that many frames/s per camera instead of twice saturation, to
 * compare latency when not saturated.
 */
import { parseArgs } from "node:util";
import { defaultModelDir } from "../src/config/load.js";
import { pipelineSchema } from "../src/config/service.js";
import type { InferenceEngine } from "../src/pipeline/inferenceEngine.js";
import { rawThroughWorker } from "./raw.js";
import { runScenario, withRaw } from "./scenario.js";
import { openCpuEngine, parseScenario, quietLog } from "./setup.js";
import { quantile, round } from "./stats.js";

const { values: a } = parseArgs({
  options: {
    layouts: { type: "string", default: "1x2,2x1" },
    rounds: { type: "string", default: "6" },
    seconds: { type: "string", default: "10" },
    warmup: { type: "string", default: "3" },
    "raw-seconds": { type: "string", default: "4" },
    scenario: { type: "string", default: "4x1280x720" },
    batch: { type: "string", default: "8" },
    model: { type: "string", default: defaultModelDir },
    fps: { type: "string" },
  },
});
const say = (s: string) => process.stderr.write(`${s}\n`);
const sc = parseScenario(String(a.scenario));
const { cameras, width, height, tiling } = sc;
const settings = pipelineSchema.parse({ batch_max_tiles: Number(a.batch) });
const opened = new Map<string, InferenceEngine>();
const engines: { name: string; engine: InferenceEngine; early: boolean; cap?: number }[] = [];
for (const name of String(a.layouts).split(",")) {
  const [shape, mode] = name.split(":");
  if (mode !== undefined && mode !== "wait" && !/^cap\d+$/.test(mode)) throw new Error(`layout ${name}: modes are :wait and :capN (N tiles in flight)`);
  const [workers, threads] = shape.split("x").map(Number);
  let engine = opened.get(shape);
  if (!engine) opened.set(shape, (engine = await openCpuEngine(String(a.model), threads, workers)));
  engines.push({ name, engine, early: mode !== "wait", cap: mode?.startsWith("cap") ? Number(mode.slice(3)) : undefined });
}

const rounds = Number(a.rounds);
const per = (Number(a.warmup) + Number(a.seconds) + 2 * Number(a["raw-seconds"])) * engines.length;
const rows: Record<string, { tiles: number; raw: number; ratio: number; main: number; busy: number; rss: number; p50: number; p99: number }[]> = {};
const t0 = performance.now();
for (let r = 0; r < rounds; r++) {
  for (const { name, engine, early, cap } of engines) {
    const before = await rawThroughWorker(engine, settings.batch_max_tiles, Number(a["raw-seconds"]));
    // Offered well past saturation: every layout runs flat out.
    const fps = a.fps ? Number(a.fps) : round(sc.fpsFor(2 * before.tiles_per_s), 1);
    const s = await runScenario({ cameras, width, height, fps_in: fps, tiling, warmup_s: Number(a.warmup), seconds: Number(a.seconds), early_send: early, inflight_tiles: cap }, engine, settings, quietLog, before, () => {});
    const after = await rawThroughWorker(engine, settings.batch_max_tiles, Number(a["raw-seconds"]));
    const full = withRaw(s, before, after);
    (rows[name] ??= []).push({ tiles: full.tiles_per_s, raw: full.raw_tiles_per_s, ratio: full.over_raw, main: full.main_thread_cores, busy: full.model_busy, rss: full.rss_end_mb, p50: full.p50_ms, p99: full.p99_ms });
    const left = per * rounds - (performance.now() - t0) / 1000;
    say(`round ${r + 1}/${rounds} ${name}: pipeline ${full.tiles_per_s} tiles/s, raw ${full.raw_tiles_per_s}, ratio ${full.over_raw}, main ${full.main_thread_cores} cores, model busy ${full.model_busy}, lag p99 ${full.loop_lag_p99_ms} ms, p50 ${full.p50_ms} ms, RSS ${full.rss_end_mb} MB  (ETA ${Math.max(0, Math.round(left))} s)`);
  }
}
const med = (xs: number[]) => round(quantile(xs, 0.5), 3);
const summary = Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, { pipeline_tiles_per_s: med(v.map((x) => x.tiles)), raw_tiles_per_s: med(v.map((x) => x.raw)), over_raw: med(v.map((x) => x.ratio)), main_thread_cores: med(v.map((x) => x.main)), model_busy: med(v.map((x) => x.busy)), rss_end_mb: med(v.map((x) => x.rss)), p50_ms: med(v.map((x) => x.p50)), p99_ms: med(v.map((x) => x.p99)), rounds: v }]));
process.stdout.write(JSON.stringify({ at: new Date().toISOString(), scenario: a.scenario, fps: a.fps ?? "2x saturation", batch: settings.batch_max_tiles, layouts: summary }) + "\n");
for (const engine of opened.values()) await engine.close();
