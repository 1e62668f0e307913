/**
 * Maps the stages' stats() onto /metrics. Lives beside main.ts, the only place that knows every
 * stage: the stages only expose counters, this file names them for Prometheus.
 */
import type { CameraPipelineStats } from "./pipeline/pipeline.js";
import type { CommandStats } from "./publish/commandChannel.js";
import type { PublisherStats } from "./publish/mqttPublisher.js";
import type { ArchiveStats } from "./publish/rejectArchive.js";
import type { CollectedMetric, MetricsRegistry } from "./service/metrics.js";
import { systemCollector } from "./service/systemMetrics.js";
import { BUSY_WINDOW_MS } from "./service/busyMeter.js";
import { SPARE_IDLE_MS } from "./pipeline/inferenceEngine.js";
import { readdirSync } from "node:fs";
import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";
import type { Decision } from "./types.js";

/** What the metrics read of a camera. */
export interface CameraCounters {
  id: string;
  state: string;
  frames: number;
  dropped: number;
  /** Samples capture skipped: empty, wrong size or a format it cannot pack. */
  skipped: number;
  errors: number;
  restarts: number;
  /** Frame buffers capture made because none was back in its pool (see FramePool). */
  buffers_allocated?: number;
}

/**
 * Frames of a camera dropped because inference fell behind: in its appsink (capture's count) and
 * pushed out of the pipeline's queue. The metric and the journal's load notices both count this.
 */
export function framesDropped(c: Pick<CameraCounters, "dropped">, p: Pick<CameraPipelineStats, "dropped">): number {
  return c.dropped + p.dropped;
}

/** Where the metrics read their counters. */
export interface MetricSources {
  cameras: () => CameraCounters[];
  pipeline: (camera: string) => CameraPipelineStats;
  inflight: () => number;
  publisher: () => PublisherStats | null;
  thumbnails: () => { rendered: number; skipped: number; errors: number };
  /** null while the archive is off or could not open. */
  archive?: () => ArchiveStats | null;
  commands: () => CommandStats;
  /** Share of the last seconds the inference workers ran the model (BusyMeter). */
  inferenceBusy: () => number;
  /** Spare model-input buffers the inference engine holds for the next batches. */
  inputBuffers: () => { count: number; bytes: number };
}

const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Sampling interval of the event-loop delay monitor, ms. Node's histogram records the time between
 * the monitor's timer ticks, this interval included (an idle loop reads 20.1 ms), so the metric
 * reports what is beyond it.
 */
const LOOP_RESOLUTION_MS = 20;

/** The daemon's metrics: histograms fed as things happen, counters read at scrape time. */
export class DaemonMetrics {
  private readonly latency;
  private readonly inference;
  private readonly batch;
  private readonly fpsState = new Map<string, { frames: number; at: number; fps: number }>();
  private readonly loopDelay: IntervalHistogram = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });

  constructor(
    readonly registry: MetricsRegistry,
    private readonly sources: MetricSources,
  ) {
    this.latency = registry.histogram("linewatch_latency_seconds", "Capture to published result, seconds", SECONDS);
    this.inference = registry.histogram("linewatch_inference_seconds", "Model time per batch, seconds", SECONDS);
    this.batch = registry.histogram("linewatch_batch_tiles", "Tiles per inference batch", [1, 2, 4, 8, 16, 32, 64, 128]);
    this.loopDelay.enable();
    registry.registerCollector(() => this.collect());
    registry.registerCollector(systemCollector());
  }

  observeBatch(tiles: number, ms: number): void {
    this.batch.observe(tiles);
    this.inference.observe(ms / 1000);
  }

  observeDecision(_d: Decision, latencyMs: number): void {
    this.latency.observe(latencyMs / 1000);
  }

  private fps(id: string, frames: number): number {
    const now = performance.now();
    const s = this.fpsState.get(id);
    if (!s) {
      this.fpsState.set(id, { frames, at: now, fps: 0 });
      return 0;
    }
    // Rate since the last scrape, kept at least 1 s apart so two quick scrapes do not read 0.
    if (now - s.at >= 1000) {
      s.fps = ((frames - s.frames) * 1000) / (now - s.at);
      s.frames = frames;
      s.at = now;
    }
    return s.fps;
  }

  private collect(): CollectedMetric[] {
    const cams = this.sources.cameras();
    const per = (name: string, help: string, type: "counter" | "gauge", value: (c: CameraCounters, p: CameraPipelineStats) => number): CollectedMetric => ({
      name, help, type,
      samples: cams.map((c) => ({ labels: { camera: c.id }, value: value(c, this.sources.pipeline(c.id)) })),
    });
    const pub = this.sources.publisher();
    const thumbs = this.sources.thumbnails();
    const cmds = this.sources.commands();
    // Event-loop lag since the last scrape: what a busy main thread makes every timer wait.
    const beyond = (ns: number) => Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS) / 1e3;
    const lag = { p99: beyond(this.loopDelay.percentile(99)), max: beyond(this.loopDelay.max) };
    this.loopDelay.reset();
    return [
      per("linewatch_camera_up", "1 while the camera delivers frames", "gauge", (c) => (c.state === "running" ? 1 : 0)),
      per("linewatch_camera_fps", "Frames per second delivered by the camera, since the last scrape", "gauge", (c) => this.fps(c.id, c.frames)),
      per("linewatch_camera_frames_total", "Frames delivered by capture", "counter", (c) => c.frames),
      per("linewatch_camera_restarts_total", "Capture restarts after errors", "counter", (c) => c.restarts),
      per("linewatch_camera_errors_total", "Capture errors", "counter", (c) => c.errors),
      per("linewatch_frame_buffers_allocated_total", "Frame buffers capture allocated because none was back in its pool: flat once a camera runs, rising when frames are not given back", "counter", (c) => c.buffers_allocated ?? 0),
      per("linewatch_frames_dropped_total", "Frames not inspected because inference fell behind: dropped in the camera's appsink while the pipeline had no room (capture takes a frame only then), or waiting frames pushed out, oldest first", "counter", framesDropped),
      per("linewatch_frames_bad_total", "Frames skipped as malformed: by capture (empty, wrong size, unknown format) or the pipeline (ROI outside the frame)", "counter", (c, p) => p.bad_frames + c.skipped),
      per("linewatch_frames_failed_total", "Frames whose inference failed", "counter", (_c, p) => p.inference_errors),
      per("linewatch_frames_decided_total", "Frames decided", "counter", (_c, p) => p.decided),
      per("linewatch_queue_depth", "Frames waiting for inference", "gauge", (_c, p) => p.waiting),
      {
        name: "linewatch_verdicts_total", help: "Verdicts by camera and verdict", type: "counter",
        samples: cams.flatMap((c) => {
          const p = this.sources.pipeline(c.id);
          return [{ labels: { camera: c.id, verdict: "pass" }, value: p.pass }, { labels: { camera: c.id, verdict: "fail" }, value: p.fail }];
        }),
      },
      { name: "linewatch_inflight_frames", help: "Frames in inference now", type: "gauge", samples: [{ value: this.sources.inflight() }] },
      { name: "linewatch_inference_busy_ratio", help: `Share of the last ${BUSY_WINDOW_MS / 1000} s the inference workers spent running the model, averaged over the workers (1: saturated; on the project's 2-core box p99 latency leaves its budget between 0.8 and 0.9, see bench/README.md)`, type: "gauge", samples: [{ value: this.sources.inferenceBusy() }] },
      { name: "linewatch_inference_input_buffers_bytes", help: `Bytes of spare model-input buffers kept for the next batches: a backlog adds some, and each is let go after ${SPARE_IDLE_MS / 1000} s unused`, type: "gauge", samples: [{ value: this.sources.inputBuffers().bytes }] },
      { name: "linewatch_mqtt_connected", help: "1 while connected to the broker", type: "gauge", samples: [{ value: pub?.connected ? 1 : 0 }] },
      { name: "linewatch_mqtt_published_total", help: "Results acknowledged by the broker", type: "counter", samples: [{ value: pub?.published ?? 0 }] },
      { name: "linewatch_mqtt_publish_errors_total", help: "Result publishes that failed (then spooled)", type: "counter", samples: [{ value: pub?.publish_errors ?? 0 }] },
      { name: "linewatch_spool_depth", help: "Results waiting in the spool", type: "gauge", samples: [{ value: pub?.spool_depth ?? 0 }] },
      { name: "linewatch_spool_dropped_total", help: "Results the spool dropped when full or too old", type: "counter", samples: [{ value: pub?.spool_dropped ?? 0 }] },
      { name: "linewatch_mqtt_refused_total", help: "Results the broker refused (MQTT 5 reason code, e.g. its ACL); dropped", type: "counter", samples: [{ value: pub?.refused ?? 0 }] },
      { name: "linewatch_mqtt_reconnects_total", help: "Connections to the broker after the first", type: "counter", samples: [{ value: pub?.reconnects ?? 0 }] },
      { name: "linewatch_commands_total", help: "Commands received on .../set topics, by result", type: "counter", samples: [{ labels: { result: "accepted" }, value: cmds.accepted }, { labels: { result: "rejected" }, value: cmds.rejected }] },
      { name: "linewatch_command_answers_best_effort_total", help: "Command answers sent at QoS 0 because the cap of answers awaiting the broker's acknowledgement was reached", type: "counter", samples: [{ labels: {}, value: cmds.answers_best_effort }] },
      { name: "process_open_fds", help: "Open file descriptors of linewatch", type: "gauge", samples: [{ value: openFds() }] },
      { name: "nodejs_eventloop_lag_p99_seconds", help: `99th percentile of the event-loop delay since the last scrape (beyond the monitor's ${LOOP_RESOLUTION_MS} ms interval), seconds`, type: "gauge", samples: [{ value: Number.isFinite(lag.p99) ? lag.p99 : 0 }] },
      { name: "nodejs_eventloop_lag_max_seconds", help: `Largest event-loop delay since the last scrape (beyond the monitor's ${LOOP_RESOLUTION_MS} ms interval), seconds`, type: "gauge", samples: [{ value: Number.isFinite(lag.max) ? lag.max : 0 }] },
      { name: "linewatch_thumbnails_total", help: "Thumbnails rendered", type: "counter", samples: [{ value: thumbs.rendered }] },
      { name: "linewatch_thumbnails_dropped_total", help: "Thumbnails not sent (socket backed up or broker away)", type: "counter", samples: [{ value: pub?.thumbnails_dropped ?? 0 }] },
      ...archiveMetrics(this.sources.archive?.() ?? null),
    ];
  }
}

/** The archive of failed parts; none while it is off or could not open (linewatch_archive_up 0). */
function archiveMetrics(a: ArchiveStats | null): CollectedMetric[] {
  const up: CollectedMetric = { name: "linewatch_archive_up", help: "1 while failed parts are archived under state_dir/archive", type: "gauge", samples: [{ value: a ? 1 : 0 }] };
  if (!a) return [up];
  return [
    up,
    { name: "linewatch_archive_saved_total", help: "Failing frames archived (ROI JPEG, mask PNG, result JSON)", type: "counter", samples: [{ value: a.saved }] },
    { name: "linewatch_archive_saved_pass_total", help: "Passing frames archived as a sample (archive.pass_interval_ms)", type: "counter", samples: [{ value: a.saved_pass }] },
    { name: "linewatch_archive_skipped_total", help: "Failing frames not archived: within archive.interval_ms of the camera's last one", type: "counter", samples: [{ value: a.skipped }] },
    { name: "linewatch_archive_errors_total", help: "Archive entries that could not be written (disk full, read-only); results are unaffected", type: "counter", samples: [{ value: a.errors }] },
    { name: "linewatch_archive_pruned_total", help: "Oldest archive entries removed to stay under archive.max_mb", type: "counter", samples: [{ value: a.pruned }] },
    { name: "linewatch_archive_bytes", help: "Bytes the archive holds on disk", type: "gauge", samples: [{ value: a.bytes }] },
    { name: "linewatch_archive_entries", help: "Frames in the archive (failed parts, and the sample of passing ones)", type: "gauge", samples: [{ value: a.entries }] },
    { name: "linewatch_archive_labelled", help: "Archived frames an operator has labelled (label/set)", type: "gauge", samples: [{ value: a.labelled }] },
    {
      name: "linewatch_archive_labels",
      help: "Labelled archived frames by camera, the daemon's verdict and the operator's truth: verdict fail + truth good are false alarms, pass + defect misses found in the pass sample (archive.pass_interval_ms)",
      type: "gauge",
      samples: a.labels.map((c) => ({ labels: { camera: c.camera, verdict: c.verdict, truth: c.truth }, value: c.count })),
    },
  ];
}

/** Open file descriptors of this process (Linux /proc), or 0 where /proc is missing. */
function openFds(): number {
  try {
    return readdirSync("/proc/self/fd").length;
  } catch {
    return 0;
  }
}
