import type { Decision } from "../types.js";
import { LATENCY_MS_BUCKETS, MetricsRegistry, type CollectedMetric, type Histogram, type Labels } from "./metrics.js";
import { systemCollector } from "./systemMetrics.js";

/** Anything with counters: its numeric and boolean fields become metrics. */
export interface StatsSource {
  stats(): object;
}

/** The stages whose stats() /metrics shows; each is optional but cameras. */
export interface DaemonMetricSources {
  /** Each camera's stats() carries its `id` (the `camera` label) and its `state`. */
  cameras: readonly { stats(): { id: string; state?: string } }[];
  /** Per-camera counters of the pipeline and the tiles in flight. */
  pipeline?: { stats(camera: string): object; readonly inflight?: number };
  publisher?: StatsSource;
  /** The model in use: `linewatch_model_info{name,version,provider} 1`. */
  engine?: { readonly provider?: string; readonly manifest?: { name: string; version: string } };
  thumbnails?: StatsSource;
  notify?: StatsSource;
}

/** Field names that count events (exposed as `<name>_total` counters); the rest are gauges. */
const COUNTER = /^(received|dropped|decided|pass|fail|published|spooled|reconnects|rendered|skipped|errors|sent|failed|frames|restarts)$|_(errors|dropped|published|frames|restarts|total)$/;
/** Camera states in which frames flow. */
const UP_STATES = new Set(["up", "running"]);

/** Samples of every numeric or boolean field of `stats`, named `<prefix>_<field>[_total]`. */
export function statsMetrics(prefix: string, stats: object, labels?: Labels): CollectedMetric[] {
  const out: CollectedMetric[] = [];
  for (const [k, v] of Object.entries(stats)) {
    if (typeof v !== "number" && typeof v !== "boolean") continue;
    const counter = COUNTER.test(k);
    const name = `${prefix}_${k}${counter && !k.endsWith("_total") ? "_total" : ""}`;
    out.push({ name, help: `${k} (${prefix.replace(/^linewatch_/, "")} stats)`, type: counter ? "counter" : "gauge", samples: [{ labels, value: Number(v) }] });
  }
  return out;
}

/** Joins the samples of families with the same name (one per camera) under one HELP/TYPE. */
function mergeFamilies(families: CollectedMetric[]): CollectedMetric[] {
  const byName = new Map<string, CollectedMetric>();
  for (const f of families) {
    const seen = byName.get(f.name);
    if (seen) seen.samples.push(...f.samples);
    else byName.set(f.name, { ...f, samples: [...f.samples] });
  }
  return [...byName.values()];
}

/**
 * The daemon's registry: latency and batch histograms fed by main.ts, plus collectors reading
 * the stages' stats() at scrape time (see {@link registerDaemonMetrics}) and the box's figures.
 */
export class DaemonMetrics extends MetricsRegistry {
  /** Capture to decision, ms, per camera. */
  readonly decisionLatency: Histogram = this.histogram("linewatch_decision_latency_ms", "Capture to decision, ms", LATENCY_MS_BUCKETS);
  /** Tiles per inference batch. */
  readonly batchSize: Histogram = this.histogram("linewatch_inference_batch_tiles", "Tiles per inference batch", [1, 2, 4, 8, 16, 32, 64, 128, 256]);
  /** Model time per batch, ms. */
  readonly inferenceLatency: Histogram = this.histogram("linewatch_inference_latency_ms", "Model time per batch, ms", LATENCY_MS_BUCKETS);

  /** Records one decision's capture-to-decision latency, ms. */
  observeDecision(d: Pick<Decision, "camera">, latencyMs: number): void {
    this.decisionLatency.observe(latencyMs, { camera: d.camera });
  }

  /** Records one inference batch: its size in tiles and the model's time in ms. */
  observeBatch(tiles: number, ms: number): void {
    this.batchSize.observe(tiles);
    this.inferenceLatency.observe(ms);
  }
}

/** Adds collectors for every stage in `sources` and for the box (CPU, memory, temperature). */
export function registerDaemonMetrics(registry: MetricsRegistry, sources: DaemonMetricSources): void {
  registry.registerCollector(() => {
    const fams: CollectedMetric[] = [];
    for (const cam of sources.cameras) {
      const s = cam.stats();
      const labels = { camera: s.id };
      fams.push(...statsMetrics("linewatch_camera", s, labels));
      if (s.state !== undefined) fams.push({ name: "linewatch_camera_up", help: "1 while the camera delivers frames", type: "gauge", samples: [{ labels, value: UP_STATES.has(s.state) ? 1 : 0 }] });
      if (sources.pipeline) fams.push(...statsMetrics("linewatch_pipeline", sources.pipeline.stats(s.id), labels));
    }
    const inflight = sources.pipeline?.inflight;
    if (inflight !== undefined) fams.push({ name: "linewatch_pipeline_inflight", help: "Tiles in inference now", type: "gauge", samples: [{ value: inflight }] });
    if (sources.publisher) fams.push(...statsMetrics("linewatch_mqtt", sources.publisher.stats()));
    if (sources.thumbnails) fams.push(...statsMetrics("linewatch_thumbnails", sources.thumbnails.stats()));
    if (sources.notify) fams.push(...statsMetrics("linewatch_sd_notify", sources.notify.stats()));
    const m = sources.engine?.manifest;
    if (m) fams.push({ name: "linewatch_model_info", help: "The model in use", type: "gauge", samples: [{ labels: { name: m.name, version: m.version, provider: sources.engine?.provider ?? "" }, value: 1 }] });
    return mergeFamilies(fams);
  });
  registry.registerCollector(systemCollector());
}
