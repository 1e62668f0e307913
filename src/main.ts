/**
 * The composition root: loads nothing itself but wires the stages it is handed a config for.
 * Start: broker (with last will) -> model warm-up -> pipeline -> cameras -> health -> READY=1.
 * Stop, in reverse, each step guarded, under one deadline.
 */
import { merge, Subject, takeUntil, tap, type Subscription } from "rxjs";
import { Camera } from "./capture/camera.js";
import type { Config } from "./config/schema.js";
import { InferenceEngine } from "./pipeline/inferenceEngine.js";
import { InspectionPipeline } from "./pipeline/pipeline.js";
import { EmbeddedBroker } from "./publish/embeddedBroker.js";
import { join } from "node:path";
import { DiskSpool } from "./publish/diskSpool.js";
import { ArchiveLabelError, type LabelCommand } from "./publish/archiveLabel.js";
import { CommandChannel } from "./publish/commandChannel.js";
import { Enrollment } from "./enrollment.js";
import { stallable } from "./debugStall.js";
import { MqttPublisher } from "./publish/mqttPublisher.js";
import { ThumbnailRenderer } from "./publish/thumbnail.js";
import { RejectArchive } from "./publish/rejectArchive.js";
import type { CameraStatus } from "./publish/topics.js";
import { DaemonMetrics, framesDropped } from "./daemonMetrics.js";
import { allocator } from "./service/allocator.js";
import { BusyMeter } from "./service/busyMeter.js";
import { CameraViews } from "./service/cameraView.js";
import { LoadWatch } from "./service/loadWatch.js";
import { cameraStatus, healthReport } from "./daemonHealth.js";
import { ReferenceStore } from "./pipeline/referenceStore.js";
import { HealthServer, type HealthReport } from "./service/healthServer.js";
import type { Logger } from "./service/logger.js";
import { MetricsRegistry } from "./service/metrics.js";
import { SdNotify } from "./service/sdNotify.js";
import type { Decision } from "./types.js";
import type { Inferencer } from "./pipeline/pipeline.js";
import { version } from "./version.js";

/** How long start() waits for the cameras' first frames before READY=1, ms. */
const CAMERA_START_WAIT_MS = 3000;

/** The running daemon. `start()` and `stop()` as every component: stop is safe twice. */
export class Daemon {
  readonly registry = new MetricsRegistry();
  private metrics: DaemonMetrics | null = null;
  private busy: BusyMeter | null = null;
  private loadWatch: LoadWatch | null = null;
  private readonly notify: SdNotify;
  private readonly references: ReferenceStore;
  private readonly views: CameraViews;
  private thumbs: ThumbnailRenderer;
  private archive: RejectArchive | null = null;
  /** Thumbnails and archive entries still reading a frame or writing, awaited on stop. */
  private readonly sideWork = new Set<Promise<unknown>>();
  private broker: EmbeddedBroker | null = null;
  private publisher: MqttPublisher | null = null;
  private engine: InferenceEngine | null = null;
  private pipeline: InspectionPipeline | null = null;
  private cameras: Camera[] = [];
  private health: HealthServer | null = null;
  private commands: CommandChannel | null = null;
  private enrollment: Enrollment | null = null;
  private readonly stop$ = new Subject<void>();
  private decisions: Subscription | null = null;
  private drained: Promise<void> = Promise.resolve();
  private stopping: Promise<void> | null = null;
  private readonly startedAt = Date.now();
  private lastProgress = performance.now();
  private supervisor: NodeJS.Timeout | null = null;

  constructor(
    readonly cfg: Config,
    private readonly log: Logger,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    this.notify = new SdNotify({ log, env });
    this.references = new ReferenceStore(cfg.state_dir);
    this.views = new CameraViews(cfg.cameras);
    this.thumbs = new ThumbnailRenderer(cfg.mqtt.thumbnail);
  }

  /** The health server's port once started (0 in the config picks a free one). */
  get healthPort(): number {
    return this.health?.port ?? 0;
  }

  async start(): Promise<void> {
    const { cfg, log } = this;
    const mainLog = log.child({ mod: "main" });
    if (cfg.mqtt.url === "embedded") {
      this.broker = new EmbeddedBroker({ host: cfg.mqtt.embedded_host, port: cfg.mqtt.embedded_port, log });
      await this.broker.start();
    }
    this.engine = await InferenceEngine.open(cfg.model, log.child({ mod: "model" }), cfg.pipeline.batch_max_tiles);
    this.engine.onFatal((err) => {
      // onnxruntime-node cannot be loaded again in this process: exit and let systemd restart us.
      mainLog.fatal({ err: err.message }, "inference worker died; exiting so the service restarts");
      void this.stop(5000).finally(() => process.exit(1));
    });
    const model = { name: this.engine.manifest.name, version: this.engine.manifest.version };
    this.busy = new BusyMeter(this.engine.workers);
    this.loadWatch = new LoadWatch(cfg.pipeline.load_notice_s * 1000);
    this.cameras = cfg.cameras.map((c) => new Camera(c, log, { backoffInitialMs: c.reconnect_initial_ms, backoffMaxMs: c.reconnect_max_s * 1000 }));
    this.publisher = new MqttPublisher({
      mqtt: cfg.mqtt,
      base_topic: cfg.base_topic,
      identity: { device: cfg.device_id, version, model, started_at: this.startedAt },
      cameras: this.cameraStatus(),
      log,
      url: this.broker?.url,
      env: this.env,
      spool: DiskSpool.open(join(cfg.state_dir, "spool"), { max_bytes: cfg.mqtt.spool.max_mb * 1024 * 1024, max_age_ms: cfg.mqtt.spool.max_age_h * 3_600_000 }, log),
    });
    await this.publisher.start();
    await this.openArchive(model, mainLog);
    const engine = stallable(this.engine, this.env, mainLog);
    this.pipeline = new InspectionPipeline({
      cameras: cfg.cameras,
      settings: cfg.pipeline,
      engine,
      log: log.child({ mod: "pipeline" }),
      onBatch: (tiles, ms) => {
        this.busy?.add(ms);
        this.metrics?.observeBatch(tiles, ms);
      },
    });
    this.loadReferences();
    this.startCommands(engine);
    // Capture takes a camera's next frame only when the pipeline has room for it: frames that
    // would be dropped are dropped in GStreamer, before the copy into this process.
    const pipeline = this.pipeline;
    for (const c of this.cameras) c.setDemand(() => pipeline.wants(c.id));
    pipeline.room$.pipe(takeUntil(this.stop$)).subscribe(() => this.cameras.forEach((c) => c.resume()));
    // A camera's view (/cameras/<id>/view.png) copies a frame here, before the pipeline crops it.
    const frames$ = merge(...this.cameras.map((c) => c.frames$)).pipe(
      tap((f) => this.views.offer(f)),
      takeUntil(this.stop$),
    );
    this.drained = new Promise<void>((resolve) => {
      this.decisions = this.pipeline!.connect(frames$).subscribe({
        next: (d) => this.onDecision(d),
        error: (err: Error) => {
          mainLog.fatal({ err: err.message }, "the pipeline failed");
          resolve();
          void this.stop().then(() => process.exit(1));
        },
        complete: resolve,
      });
    });
    this.metrics = new DaemonMetrics(this.registry, {
      cameras: () => this.cameras.map((c) => ({ ...c.stats(), buffers_allocated: c.poolStats().allocated })),
      pipeline: (id) => pipeline.stats(id),
      inflight: () => pipeline.inflight,
      publisher: () => this.publisher?.stats() ?? null,
      thumbnails: () => this.thumbs.stats(),
      archive: () => this.archive?.stats() ?? null,
      commands: () => this.commands?.stats() ?? { accepted: 0, rejected: 0, answers_best_effort: 0 },
      inferenceBusy: () => this.busy?.ratio() ?? 0,
      inputBuffers: () => this.engine?.spareBuffers ?? { count: 0, bytes: 0 },
    });
    this.supervisor = setInterval(() => this.tick(), 1000);
    this.supervisor.unref();
    this.health = new HealthServer({ ...cfg.health, report: () => this.healthReport(), metrics: this.registry, archive: () => this.archive, views: this.views, log });
    await this.health.start();
    // Cameras start side by side: one that never delivers (start timeout) must not hold up the others.
    // READY waits for each camera's first frame or failure, at most CAMERA_START_WAIT_MS: a slow one starts on in the background.
    const started = Promise.all(this.cameras.map((c) => c.start()));
    await Promise.race([started, new Promise((r) => setTimeout(r, CAMERA_START_WAIT_MS).unref())]);
    this.tick();
    this.notify.startWatchdog(() => this.progressing());
    await this.notify.ready(`inspecting ${this.cameras.length} camera(s) with ${model.name} ${model.version} on ${this.engine.provider} (${this.engine.workers} inference worker(s))`);
    mainLog.info({ cameras: this.cameras.length, provider: this.engine.provider, workers: this.engine.workers, threads: this.engine.threads, health_port: this.health.port, allocator: allocator(), glibc_tunables: process.env.GLIBC_TUNABLES ?? null }, "linewatch is running");
  }

  /** `<camera>/+/set` command topics: enrolment, and labels on archived frames. */
  private startCommands(engine: Inferencer): void {
    const client = this.publisher!.client!;
    const answer = (camera: string, body: Record<string, unknown>) => this.commands?.answer(camera, "enroll", body);
    this.enrollment = new Enrollment({ engine, store: this.references, cameras: this.cfg.cameras, batch_max: this.cfg.pipeline.batch_max_tiles, log: this.log, answer, changed: () => this.loadReferences() });
    this.commands = new CommandChannel({
      client,
      base_topic: this.cfg.base_topic,
      device: this.cfg.device_id,
      cameras: this.cfg.cameras.map((c) => c.id),
      log: this.log,
      onCommand: (cmd) => (cmd.name === "enroll" ? this.enrollment?.command(cmd.camera, cmd.payload) : void this.labelArchived(cmd.camera, cmd.payload)),
    });
    this.commands.start();
  }

  /** label/set: stores an operator's label on an archived frame and answers on label/state. */
  private async labelArchived(camera: string, cmd: LabelCommand): Promise<void> {
    const answer = (body: Record<string, unknown>) => this.commands?.answer(camera, "label", body);
    if (!this.archive) return answer({ ok: false, frame_id: cmd.frame_id, error: "no archive: archive.enabled is false, or its folder could not be opened (see the log)" });
    try {
      const label = await this.archive.label(camera, cmd);
      answer({ ok: true, frame_id: cmd.frame_id, state: label ? "labelled" : "cleared", label });
    } catch (err) {
      if (!(err instanceof ArchiveLabelError)) throw err;
      answer({ ok: false, frame_id: cmd.frame_id, error: err.message });
    }
  }

  private onDecision(d: Decision): void {
    this.lastProgress = performance.now();
    this.publisher!.publishResult(d);
    // One line per decision at debug, once it is in the spool: which results a run produced, for audits and tests.
    this.log.debug({ camera: d.camera, seq: d.seq, frame_id: d.frame_id, verdict: d.verdict }, "decided");
    this.enrollment?.offer(d);
    this.metrics?.observeDecision(d, performance.now() - d.captured_mono);
    // Thumbnails and the archive work off the result path, each at most once per camera per
    // interval. The frame's buffer goes back to capture once nothing reads the image (enrolment
    // copied it).
    const uses: Promise<unknown>[] = [];
    if (this.thumbs.due(d.camera, d.verdict)) {
      uses.push(
        this.thumbs.render(d).then(
          (jpeg) => jpeg && this.publisher?.publishThumbnail(d.camera, jpeg, { frame_id: d.frame_id, verdict: d.verdict }),
          (err: Error) => this.log.warn({ camera: d.camera, err: err.message }, "thumbnail failed"),
        ),
      );
    }
    if (this.archive && (d.verdict === "fail" || this.archive.due(d.camera, d.verdict))) uses.push(this.archive.save(d));
    if (uses.length === 0) {
      d.release?.();
      return;
    }
    const done = Promise.allSettled(uses).then(() => d.release?.());
    this.sideWork.add(done);
    void done.finally(() => this.sideWork.delete(done));
  }

  /**
   * The archive of failed parts under state_dir/archive. One that cannot be opened (a folder it
   * cannot create or read) is logged and left out: inspection and results go on without it.
   */
  private async openArchive(model: { name: string; version: string }, log: Logger): Promise<void> {
    const { cfg } = this;
    if (!cfg.archive.enabled) return;
    const dir = join(cfg.state_dir, "archive");
    try {
      this.archive = await RejectArchive.open(dir, cfg.archive, { device: cfg.device_id, version, model, started_at: this.startedAt }, this.log);
      const st = this.archive.stats();
      log.info({ dir, entries: st.entries, mb: Math.round(st.bytes / 1048576), max_mb: cfg.archive.max_mb }, "archive of failed parts");
    } catch (err) {
      log.error({ dir, err: (err as Error).message }, "archive of failed parts unavailable; inspecting without it");
    }
  }

  /**
   * The pipeline progresses when it has nothing in flight or decided a frame within one watchdog
   * ping interval (half of WatchdogSec; 10 s without a watchdog): a stuck inference worker stops
   * the pings, and systemd restarts the service one WatchdogSec after the last.
   */
  private progressing(): boolean {
    const window = this.notify.watchdogIntervalMs ?? 10_000;
    return (this.pipeline?.inflight ?? 0) === 0 || performance.now() - this.lastProgress < window;
  }

  /** Once a second: camera states into the retained status, new references from disk. */
  private tick(): void {
    this.publisher?.updateCameras(this.cameraStatus());
    this.loadReferences();
    this.watchLoad();
  }

  /** Logs, at most once every `pipeline.load_notice_s`, when inference falls behind the cameras (LoadWatch). */
  private watchLoad(): void {
    const pipeline = this.pipeline;
    if (!pipeline || !this.busy || !this.loadWatch) return;
    const dropped = new Map(this.cameras.map((c) => [c.id, framesDropped(c.stats(), pipeline.stats(c.id))]));
    const notice = this.loadWatch.observe(performance.now(), dropped, this.busy.ratio());
    if (!notice) return;
    const { level, msg, ...fields } = notice;
    this.log.child({ mod: "load" })[level](fields, msg);
  }

  /** Applies references that appeared, changed or went under the state directory. */
  private loadReferences(): void {
    for (const c of this.cfg.cameras) {
      if (!this.references.changed(c.id)) continue;
      try {
        const ref = this.references.load(c.id);
        const m = this.engine!.manifest;
        if (ref && (ref.model.name !== m.name || ref.model.version !== m.version)) {
          this.log.warn({ camera: c.id, reference_model: ref.model, model: { name: m.name, version: m.version } }, "reference was built with another model; not used (enrol again)");
          this.pipeline!.setReference(c.id, null);
          continue;
        }
        const had = this.pipeline!.referenceOf(c.id) !== undefined;
        this.pipeline!.setReference(c.id, ref);
        if (ref) this.log.info({ camera: c.id, kind: ref.kind, shots: ref.shots, created_at: ref.created_at }, "few-shot reference in use");
        else if (had) this.log.info({ camera: c.id }, "few-shot reference removed");
      } catch (err) {
        this.log.error({ camera: c.id, file: this.references.path(c.id), err: (err as Error).message }, "reference unreadable; the camera runs without one");
        this.pipeline!.setReference(c.id, null);
      }
    }
  }

  private cameraStatus(): CameraStatus[] {
    return cameraStatus(this.cameras.map((c) => c.stats()));
  }

  /** 200 only while the model is loaded and every camera is running with a recent frame. */
  healthReport(): HealthReport {
    const e = this.engine;
    return healthReport({
      device: this.cfg.device_id,
      cameras: this.cfg.cameras,
      stats: this.cameras.map((c) => c.stats()),
      model: e ? { name: e.manifest.name, provider: e.provider } : null,
      mqtt_connected: this.publisher?.stats().connected ?? false,
      stopping: this.stopping !== null,
      inference_busy: this.busy?.ratio() ?? null,
    });
  }

  /** Stops capture, decides what is in flight, publishes offline, closes; within `deadlineMs`. */
  stop(deadlineMs = 20_000): Promise<void> {
    this.stopping ??= this.doStop(deadlineMs);
    return this.stopping;
  }

  private async doStop(deadlineMs: number): Promise<void> {
    const t0 = performance.now();
    const left = () => Math.max(0, deadlineMs - (performance.now() - t0));
    const step = async (name: string, fn: () => Promise<unknown> | unknown, share = 1) => {
      try {
        await Promise.race([fn(), new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out`)), left() * share).unref())]);
      } catch (err) {
        this.log.warn({ step: name, err: (err as Error).message }, "shutdown step failed");
      }
    };
    await this.notify.stopping();
    this.notify.stopWatchdog();
    if (this.supervisor) clearInterval(this.supervisor);
    this.views.close();
    await step("cameras", () => Promise.all(this.cameras.map((c) => c.stop())), 0.3);
    this.stop$.next();
    await step("drain pipeline", () => this.drained, 0.4);
    await step("thumbnails and archive", () => Promise.allSettled([...this.sideWork]), 0.3);
    this.decisions?.unsubscribe();
    this.enrollment?.stop();
    this.commands?.stop();
    await step("mqtt", () => this.publisher?.stop(), 0.5);
    await step("model", () => this.engine?.close(), 0.5);
    await step("health", () => this.health?.stop(), 0.5);
    await step("broker", () => this.broker?.stop(), 1);
    this.log.info({ ms: Math.round(performance.now() - t0) }, "linewatch stopped");
  }
}
