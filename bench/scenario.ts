import { cameraSchema } from "../src/config/camera.js";
import type { CameraConfig, PipelineConfig, Tiling } from "../src/config/schema.js";
import { InspectionPipeline, type Inferencer } from "../src/pipeline/pipeline.js";
import { tilePlan } from "../src/pipeline/tile.js";
import { resultPayload } from "../src/publish/topics.js";
import type { Logger } from "../src/service/logger.js";
import { lagMonitor, loadNow, mainThreadCpuS, mean, quantile, round, rssMb, stealMeter } from "./stats.js";
import type { RawResult } from "./raw.js";
import { syntheticCameras } from "./syntheticCameras.js";
import { Subject, takeUntil } from "rxjs";

/**
 * Share of the offered frames a run must drop to count as saturated (until the thirteenth session:
 * any drop, which let one frame dropped in a slow second put an unsaturated 1080p run among the
 * saturated ones in pipeline_over_raw and out of the latency check).
 */
export const SATURATED_DROP_SHARE = 0.01;

/** One bench scenario: how many cameras, what frames, at what rate. */
export interface ScenarioSpec {
  cameras: number;
  width: number;
  height: number;
  /** Frames per second offered by each camera. */
  fps_in: number;
  tiling: Tiling;
  warmup_s: number;
  seconds: number;
  /** The pipeline's earlySend (default true). */
  early_send?: boolean;
  /** The pipeline's inflightTiles (default: its own). */
  inflight_tiles?: number;
  /** Called for every frame decided in the window with its capture time and latency, ms (a trace). */
  on_decision?: (capturedMono: number, latencyMs: number) => void;
}

/** What one scenario measured (snake_case: it is the bench's JSON). */
export interface ScenarioResult {
  cameras: number;
  width: number;
  height: number;
  tiles_per_frame: number;
  fps_in: number;
  /** Decided frames per second over the measured window. */
  fps: number;
  tiles_per_s: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  /** Capture to serialised result payload (no broker), p99. */
  p99_publish_ms: number;
  loop_lag_p99_ms: number;
  mean_batch: number;
  /** Mean model time per batch, ms (session.run plus calibration, in the worker). */
  batch_ms: number;
  /** Share of the window the model was running, per inference worker (1: every worker always busy). */
  model_busy: number;
  /**
   * batch_max_wait_ms + 2 times a full batch (batch_max_tiles) in the raw loop measured before the
   * scenario: the latency target when not saturated.
   */
  latency_budget_ms: number;
  dropped: number;
  /** More than SATURATED_DROP_SHARE of the frames offered in the window were dropped. */
  saturated: boolean;
  /** CPU the main thread used over the window, in cores (what it takes from the model's threads). */
  main_thread_cores: number;
  rss_start_mb: number;
  rss_end_mb: number;
  /**
   * RSS sampled once a second over the window: medians of its first and of its last fifth, and its
   * peak. A single reading moves by tens of MB with the garbage collector's cycle (frame buffers
   * waiting for the next collection), so growth is judged on these, beside the two readings.
   */
  rss_first_mb: number;
  rss_last_mb: number;
  rss_peak_mb: number;
  load1: number;
  /** Share of the box's CPU time stolen by the hypervisor over the window (see stealMeter). */
  steal: number;
  /** Raw model throughput: the mean of the loops just before and just after this scenario. */
  raw_tiles_per_s: number;
  /** The raw loop before the scenario, and after it (the box's speed drifts within minutes). */
  raw_before_tiles_per_s: number;
  raw_after_tiles_per_s: number;
  /** Steal during the raw loops before and after. */
  raw_steal: number;
  /** Loop lag p99 during the raw loop before, with this thread idle: the floor set by the box. */
  raw_loop_lag_p99_ms: number;
  /** tiles_per_s / raw_tiles_per_s. */
  over_raw: number;
}

/** Sets a result's raw figures from the raw loops measured before and after it. */
export function withRaw(r: ScenarioResult, before: RawResult, after: RawResult): ScenarioResult {
  const raw = (before.tiles_per_s + after.tiles_per_s) / 2;
  return {
    ...r,
    raw_tiles_per_s: round(raw, 1),
    raw_before_tiles_per_s: before.tiles_per_s,
    raw_after_tiles_per_s: after.tiles_per_s,
    raw_steal: round(((before.steal ?? NaN) + (after.steal ?? NaN)) / 2, 3),
    over_raw: round(r.tiles_per_s / raw, 3),
  };
}

/**
 * Runs one scenario through a fresh InspectionPipeline on a shared engine. `raw` is the raw loop
 * measured just before (for the latency budget); the caller adds the one after with withRaw().
 */
export async function runScenario(spec: ScenarioSpec, engine: Inferencer, settings: PipelineConfig, log: Logger, raw: RawResult, progress: (done: number) => void): Promise<ScenarioResult> {
  const ids = Array.from({ length: spec.cameras }, (_, i) => `cam${i}`);
  const cameras: CameraConfig[] = ids.map((id) => cameraSchema.parse({ id, kind: "test", width: spec.width, height: spec.height, tiling: spec.tiling }));
  let batches = 0, batchTiles = 0, batchMs = 0;
  let measuring = false;
  const pipeline = new InspectionPipeline({
    cameras, settings, engine, log,
    earlySend: spec.early_send,
    inflightTiles: spec.inflight_tiles,
    onBatch: (tiles, ms) => {
      if (!measuring) return;
      batches++;
      batchTiles += tiles;
      batchMs += ms;
    },
  });
  const identity = { device: "bench", version: "0.0.0", model: { name: engine.manifest.name, version: engine.manifest.version }, started_at: Date.now() };
  const latencies: number[] = [];
  const toPublish: number[] = [];
  let decided = 0;
  const halt$ = new Subject<void>();
  // Frames the pipeline has no room for are dropped in the (emulated) appsink, as capture does.
  const sinkDropped = new Map<string, number>();
  const demand = { wants: (id: string) => pipeline.wants(id), room$: pipeline.room$ };
  const frames$ = syntheticCameras({ cameras: ids, width: spec.width, height: spec.height, fps: spec.fps_in, demand, sinkDropped }).pipe(takeUntil(halt$));
  const finished = new Promise<void>((resolve, reject) => {
    pipeline.connect(frames$).subscribe({
      next: (d) => {
        if (measuring) {
          decided++;
          latencies.push(d.decided_mono - d.captured_mono);
          spec.on_decision?.(d.captured_mono, d.decided_mono - d.captured_mono);
          Buffer.from(JSON.stringify(resultPayload(d, identity)));
          toPublish.push(performance.now() - d.captured_mono);
        }
        // The frame's buffer goes back to its camera's pool, as the daemon does after a result.
        d.release?.();
      },
      error: reject,
      complete: resolve,
    });
  });
  const dropped = () => ids.reduce((n, id) => n + pipeline.stats(id).dropped + (sinkDropped.get(id) ?? 0), 0);

  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const rssSamples: number[] = [];
  const tick = async (seconds: number, base: number) => {
    const end = performance.now() + seconds * 1000;
    while (performance.now() < end) {
      await sleep(Math.min(1000, end - performance.now()));
      if (measuring) rssSamples.push(rssMb());
      progress(base + seconds - (end - performance.now()) / 1000);
    }
  };
  await tick(spec.warmup_s, 0);
  const lag = lagMonitor();
  const dropped0 = dropped();
  const rssStart = rssMb();
  const cpu0 = mainThreadCpuS();
  const load = loadNow();
  const steal = stealMeter();
  measuring = true;
  const t0 = performance.now();
  await tick(spec.seconds, spec.warmup_s);
  measuring = false;
  const window = (performance.now() - t0) / 1000;
  const stolen = steal();
  lag.stop();
  const rssEnd = rssMb();
  const droppedN = dropped() - dropped0;
  // Stop the cameras and let what is in flight drain, so the next scenario starts on an idle worker.
  halt$.next();
  await Promise.race([finished, sleep(60_000)]);

  const tilesPerFrame = tilePlan(spec.width, spec.height, spec.tiling).length;
  const batchMean = batches ? batchMs / batches : NaN;
  return {
    cameras: spec.cameras,
    width: spec.width,
    height: spec.height,
    tiles_per_frame: tilesPerFrame,
    fps_in: round(spec.fps_in * spec.cameras),
    fps: round(decided / window),
    tiles_per_s: round(batchTiles / window, 1),
    p50_ms: round(quantile(latencies, 0.5), 1),
    p95_ms: round(quantile(latencies, 0.95), 1),
    p99_ms: round(quantile(latencies, 0.99), 1),
    p99_publish_ms: round(quantile(toPublish, 0.99), 1),
    loop_lag_p99_ms: lag.p99(),
    mean_batch: round(batches ? batchTiles / batches : 0, 2),
    batch_ms: round(batchMean, 1),
    model_busy: round(batchMs / 1000 / window / Math.max(1, engine.workers ?? 1), 3),
    latency_budget_ms: round(settings.batch_max_wait_ms + 2 * raw.batch_ms, 1),
    dropped: droppedN,
    // Past capacity a share of the frames is dropped, not one in a slow second of an unsaturated run.
    saturated: droppedN > SATURATED_DROP_SHARE * spec.fps_in * spec.cameras * window,
    main_thread_cores: round((mainThreadCpuS() - cpu0) / window, 3),
    rss_start_mb: rssStart,
    rss_end_mb: rssEnd,
    ...rssSummary(rssSamples),
    load1: load.load1,
    steal: stolen,
    raw_tiles_per_s: raw.tiles_per_s,
    raw_before_tiles_per_s: raw.tiles_per_s,
    raw_after_tiles_per_s: NaN,
    raw_steal: raw.steal ?? NaN,
    raw_loop_lag_p99_ms: raw.idle_loop_lag_p99_ms ?? NaN,
    over_raw: round(batchTiles / window / raw.tiles_per_s, 3),
  };
}

/** Medians of the first and last fifth of per-second RSS samples, and their peak. */
function rssSummary(samples: readonly number[]): Pick<ScenarioResult, "rss_first_mb" | "rss_last_mb" | "rss_peak_mb"> {
  const n = Math.max(1, Math.floor(samples.length / 5));
  return {
    rss_first_mb: round(quantile(samples.slice(0, n), 0.5), 1),
    rss_last_mb: round(quantile(samples.slice(-n), 0.5), 1),
    rss_peak_mb: samples.length ? round(Math.max(...samples), 1) : NaN,
  };
}

/** Mean of a field over results, for summaries. */
export function meanOf(rs: readonly ScenarioResult[], f: (r: ScenarioResult) => number): number {
  return mean(rs.map(f));
}
