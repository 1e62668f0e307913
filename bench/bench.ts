/**
 * `npm run bench -- [--json] [--seconds N]`: the real InspectionPipeline with the real
 * InferenceEngine (CPU provider) on synthetic frames, 1/2/4 cameras at 720p and 1080p, against
 * the raw throughput of the same model at the same batch size. Not a test; not in CI.
 * Progress goes to stderr; the table (or, with --json, one JSON object) to stdout; a PNG and the
 * JSON to bench/results/. Runs with the systemd unit's environment (one set here wins, for A/B runs).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { withUnitEnvironment } from "../scripts/unitRuntime.js";
import { defaultModelDir } from "../src/config/load.js";
import type { Tiling } from "../src/config/schema.js";
import { pipelineSchema } from "../src/config/service.js";
import { tilePlan } from "../src/pipeline/tile.js";
import { openCpuEngine, quietLog } from "./setup.js";
import { writeChart } from "./chart.js";
import { rawInChildren, rawThroughWorker, type RawResult } from "./raw.js";
import { runScenario, withRaw, type ScenarioResult } from "./scenario.js";
import { loadNow, mean, quantile, round } from "./stats.js";

const { values: a } = parseArgs({
  options: {
    json: { type: "boolean", default: false },
    seconds: { type: "string", default: "20" },
    warmup: { type: "string", default: "5" },
    "raw-seconds": { type: "string", default: "8" },
    fps: { type: "string", default: "auto" },
    tile: { type: "string", default: "512" },
    overlap: { type: "string", default: "32" },
    batch: { type: "string", default: "8" },
    wait: { type: "string", default: "20" },
    threads: { type: "string", default: "0" },
    workers: { type: "string", default: "0" },
    model: { type: "string", default: defaultModelDir },
    scenarios: { type: "string", default: "1x1280x720,2x1280x720,4x1280x720,1x1920x1080,2x1920x1080,4x1920x1080" },
    label: { type: "string", default: "" },
    "no-child": { type: "boolean", default: false },
    repeat: { type: "string", default: "1" },
  },
});

const num = (k: keyof typeof a) => Number(a[k]);
const tiling: Tiling = { mode: "grid", tile: num("tile"), overlap: num("overlap") };
const settings = pipelineSchema.parse({ batch_max_tiles: num("batch"), batch_max_wait_ms: num("wait") });
const specs = String(a.scenarios).split(",").map((s) => s.split("x").map(Number)).map(([cameras, width, height]) => ({ cameras, width, height }));
const threads = num("threads");
const say = (s: string) => process.stderr.write(`${s}\n`);
const fmtS = (s: number) => (s >= 60 ? `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, "0")}s` : `${Math.round(s)}s`);

// The daemon's malloc and thread-pool settings come from the unit's environment, read at start.
const environment = withUnitEnvironment();
const engine = await openCpuEngine(String(a.model), threads, num("workers"));
const m = engine.manifest;
say(`bench: model ${m.name} ${m.version} (${m.input.channels}x${m.input.height}x${m.input.width}), tiling grid ${tiling.tile}/${tiling.overlap}, batch ${settings.batch_max_tiles}, wait ${settings.batch_max_wait_ms} ms, ${engine.workers} worker(s) x ${engine.threads} thread(s), load ${loadNow().load1} on ${loadNow().cores} cores`);
say(`bench: raw loop through the worker(s), batch ${settings.batch_max_tiles}, ${a["raw-seconds"]} s ...`);
const rawWorker = await rawThroughWorker(engine, settings.batch_max_tiles, num("raw-seconds"));
say(`bench: raw ${rawWorker.tiles_per_s} tiles/s (${rawWorker.batch_ms} ms a batch)`);

// Per-camera rate: "auto" offers 35 % of the raw capacity per 720p camera, so one and two 720p
// cameras run below saturation and four 720p or two+ 1080p cameras run past it.
const tiles720 = tilePlan(1280, 720, tiling).length;
const fpsIn = a.fps === "auto" ? round((0.35 * rawWorker.tiles_per_s) / tiles720, 2) : num("fps");
const per = num("warmup") + num("seconds") + num("raw-seconds");
const runs = Array.from({ length: Math.max(1, num("repeat")) }, () => specs).flat();
const results: ScenarioResult[] = [];
const t0 = performance.now();
// Raw loops between scenarios: each scenario is judged against the mean of the loop just before
// and the one just after it, because on a shared box the speed drifts within minutes.
let before = rawWorker;
for (const [i, s] of runs.entries()) {
  const name = `${s.cameras}x${s.width}x${s.height}`;
  let last = 0;
  const r = await runScenario({ ...s, fps_in: fpsIn, tiling, warmup_s: num("warmup"), seconds: num("seconds") }, engine, settings, quietLog, before, (done) => {
    if (performance.now() - last < 2000) return;
    last = performance.now();
    const left = (runs.length - i) * per - done;
    say(`  [${i + 1}/${runs.length}] ${name} @ ${fpsIn} fps/cam  ${done.toFixed(0)}/${per}s  ETA ${fmtS(left)}`);
  });
  const after = await rawThroughWorker(engine, settings.batch_max_tiles, num("raw-seconds"));
  const full = withRaw(r, before, after);
  say(`  [${i + 1}/${runs.length}] ${name}: ${full.fps} fps, ${full.tiles_per_s} tiles/s (raw ${before.tiles_per_s} before, ${after.tiles_per_s} after), p99 ${full.p99_ms} ms, lag p99 ${full.loop_lag_p99_ms} ms, dropped ${full.dropped}, steal ${full.steal}`);
  results.push(full);
  before = after;
}
// The worker hop's cost: the same loop through the worker (the last one above), then without it.
const rawWorkerEnd = before;
await engine.close();
let rawChild: RawResult | null = null;
if (!a["no-child"]) {
  say(`bench: raw loop without the workers (${engine.workers} child process(es) of ${engine.threads} thread(s)), ${a["raw-seconds"]} s ...`);
  rawChild = await rawInChildren(engine.workers, join(String(a.model), "model.onnx"), [m.input.channels, m.input.height, m.input.width], m.input.name, settings.batch_max_tiles, num("raw-seconds"), engine.threads).catch((err: Error) => {
    say(`bench: raw child failed: ${err.message}`);
    return null;
  });
}

const raw = round(mean(results.map((r) => r.raw_tiles_per_s)), 1);
const sat = results.filter((r) => r.saturated);
// Each saturated run against the raw loops around it; the median over runs, which one run on a
// burst of steal does not move.
const overRaw = sat.length ? quantile(sat.map((r) => r.over_raw), 0.5) : Math.max(...results.map((r) => r.over_raw));
const report = {
  label: String(a.label),
  at: new Date().toISOString(),
  model: { name: m.name, version: m.version, input: [m.input.channels, m.input.height, m.input.width] },
  provider: "cpu",
  tiling,
  batch_max_tiles: settings.batch_max_tiles,
  batch_max_wait_ms: settings.batch_max_wait_ms,
  threads: engine.threads,
  workers: engine.workers,
  fps_per_camera: fpsIn,
  scenarios: results,
  raw_tiles_per_s: raw,
  raw_worker: rawWorkerEnd,
  raw_child: rawChild,
  pipeline_over_raw: round(overRaw, 3),
  saturated_scenarios: sat.length,
  repeat: runs.length / specs.length,
  cores: loadNow().cores,
  environment,
  wall_s: round((performance.now() - t0) / 1000, 0),
};
const dir = new URL("./results/", import.meta.url).pathname;
mkdirSync(dir, { recursive: true });
const stamp = report.at.replace(/[:.]/g, "-");
writeFileSync(join(dir, `bench-${stamp}.json`), JSON.stringify(report, null, 2) + "\n");
await writeChart(join(dir, `bench-${stamp}.png`), results, raw, `${m.name} ${m.version}, grid ${tiling.tile}/${tiling.overlap}, batch ${settings.batch_max_tiles}, ${report.cores} cores, ${fpsIn} fps/camera ${report.label}`).catch((err: Error) => say(`bench: chart not written: ${err.message}`));
say(`bench: wrote ${join(dir, `bench-${stamp}.json`)} and .png`);

if (a.json) process.stdout.write(JSON.stringify(report) + "\n");
else {
  const cols = ["cameras", "width", "height", "fps_in", "fps", "tiles_per_s", "p50_ms", "p95_ms", "p99_ms", "p99_publish_ms", "loop_lag_p99_ms", "mean_batch", "batch_ms", "model_busy", "latency_budget_ms", "dropped", "main_thread_cores", "rss_start_mb", "rss_end_mb", "rss_first_mb", "rss_last_mb", "load1", "steal", "raw_before_tiles_per_s", "raw_after_tiles_per_s", "raw_steal", "raw_loop_lag_p99_ms", "over_raw"] as const;
  console.log(cols.join("\t"));
  for (const r of results) console.log(cols.map((c) => r[c]).join("\t"));
  console.log(`raw tiles/s: mean ${raw}; at the end through the worker ${rawWorkerEnd.tiles_per_s}, bare (no worker) ${rawChild?.tiles_per_s ?? "n/a"}; pipeline/raw at saturation: ${report.pipeline_over_raw}`);
}
