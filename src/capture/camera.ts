import { Subject, type Observable } from "rxjs";
import type { CameraConfig } from "../config/camera.js";
import type { Logger } from "../service/logger.js";
import type { Frame } from "../types.js";
import { StatsRecorder, type CameraState, type CameraStats } from "./cameraStats.js";
import { redact, SINK_MAX_BUFFERS, type SourcePlan } from "./describe.js";
import { readPixels } from "./frameReader.js";
import { Backoff, resolveOptions, Watchdog, type CameraOptions } from "./cameraOptions.js";
import { FramePool, type FramePoolStats } from "./framePool.js";
import { warnSmallThreadpool, type BusMessage, type SampleCaps } from "./gst.js";
import { PipelineHandle, type Run } from "./pipelineHandle.js";
import { planSource } from "./registry.js";

export type { CameraState, CameraStats } from "./cameraStats.js";
export type { CameraOptions } from "./cameraOptions.js";

/**
 * One camera: plays its source's GStreamer pipelines and emits frames on `frames$` (hot; completes at
 * stop() or when a source played once ends). Faults never throw: a bus error, an unexpected end of
 * stream, a missing source or no frame in time is recorded in stats(), the pipeline is stopped and
 * played again after an exponential backoff, and other cameras are unaffected.
 */
export class Camera {
  /** Frames of this camera, RGB (GRAY8 from a raw pipeline that asks for it), seq from 0 without gaps. */
  readonly frames$: Observable<Frame>;
  private readonly subject = new Subject<Frame>();
  private readonly log: Logger;
  private readonly opts: Required<CameraOptions>;
  private readonly stat = new StatsRecorder();
  private state: CameraState = "stopped";
  private startPromise: Promise<void> | null = null;
  private settle: (() => void) | null = null;
  private closed = false;
  private plan: SourcePlan | null = null;
  private runIndex = 0;
  /** Parsed pipelines kept for replay, by description (the binding never frees one). */
  private readonly handles = new Map<string, PipelineHandle>();
  private run: Run | null = null;
  private token = 0;
  private seq = 0;
  private readonly backoff: Backoff;
  private readonly watchdog = new Watchdog((reason) => this.fail(reason));
  private timer: NodeJS.Timeout | null = null;
  private lastLogged: string | null = null;
  /** The consumer's demand (setDemand); capture takes the next frame only while it is true. */
  private wants: () => boolean = () => true;
  /** The run whose pull loop waits for demand, if any. */
  private parked: Run | null = null;
  /** Buffers the next samples are copied into; each frame's `release` gives its buffer back. */
  private readonly pool = new FramePool();
  /** Size of the last sample: the size of buffer the next pull gets (0: a plain pull). */
  private sampleBytes = 0;

  constructor(
    private readonly cfg: CameraConfig,
    log: Logger,
    options: CameraOptions = {},
  ) {
    this.log = log.child({ mod: "capture", camera: cfg.id });
    this.opts = resolveOptions(options, cfg);
    this.backoff = new Backoff(this.opts.backoffInitialMs, this.opts.backoffMaxMs);
    this.frames$ = this.subject.asObservable();
  }

  /** Camera id from the config. */
  get id(): string {
    return this.cfg.id;
  }

  /**
   * Starts capturing. Resolves once the first attempt settled: a first frame (running), a failure
   * (down, retrying in the background), the end of a short source, or the start timeout. Never
   * rejects for a source fault. A second call returns the first call's promise; after stop() a no-op.
   */
  start(): Promise<void> {
    if (this.startPromise !== null) return this.startPromise;
    if (this.closed) return (this.startPromise = Promise.resolve());
    this.startPromise = new Promise((resolve) => (this.settle = resolve));
    warnSmallThreadpool((size) => this.log.warn({ uv_threadpool_size: size }, "each camera holds 2 libuv pool threads: set UV_THREADPOOL_SIZE=32"));
    this.watchdog.start(Math.max(20, Math.min(250, this.opts.startTimeoutMs / 4, this.opts.stallTimeoutMs / 4)));
    this.setState("starting");
    void this.launch();
    return this.startPromise;
  }

  /** Stops the pipeline and completes frames$; safe to call twice and before start(). */
  async stop(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.watchdog.stop();
    this.teardown();
    this.handles.clear();
    this.pool.clear();
    this.setState("stopped");
    this.subject.complete();
    await this.plan?.dispose().catch((err: unknown) => this.log.warn({ err }, "could not clean up the source"));
  }

  /**
   * Lets the consumer hold frames back: after each frame, the next is taken from the source only
   * while `wants()` is true, else capture waits for resume(). Meanwhile a live source's appsink
   * keeps its newest frames and drops older ones in GStreamer (counted in stats().dropped), never
   * copying them into the process; a file or image folder plays no further. The stall watchdog
   * sleeps while capture waits. Call before start().
   */
  setDemand(wants: () => boolean): void {
    this.wants = wants;
  }

  /** Takes the next frame if capture waits for demand and the consumer wants one now. */
  resume(): void {
    const run = this.parked;
    if (run === null || this.closed || run.tok !== this.token || !this.wants()) return;
    this.parked = null;
    this.armStall();
    this.pull(run);
  }

  /** A snapshot of the camera's state and counters. */
  stats(): CameraStats {
    // While playing, up to max-buffers frames wait in the sink and one in the pull thread.
    const running = this.run !== null && this.plan?.finite === false ? this.run.handle.dropped(this.run.received, SINK_MAX_BUFFERS + 1) : 0;
    return this.stat.snapshot(this.cfg.id, this.cfg.kind, this.state, running);
  }

  /** What the camera's frame-buffer pool has done. */
  poolStats(): FramePoolStats {
    return this.pool.stats();
  }

  /** Builds (or builds again: an images folder is read again) the source plan and plays its first run. */
  private async launch(): Promise<void> {
    const tok = ++this.token;
    let plan: SourcePlan;
    try {
      plan = await planSource(this.cfg);
    } catch (err) {
      if (tok === this.token && !this.closed) this.fail(err instanceof Error ? err.message : String(err));
      return;
    }
    if (this.closed) return void (await plan.dispose().catch(() => {}));
    if (tok !== this.token) return;
    this.plan = plan;
    this.runIndex = 0;
    for (const desc of this.handles.keys()) if (!plan.descriptions.includes(desc)) this.handles.delete(desc);
    this.playRun();
  }

  private playRun(): void {
    const plan = this.plan;
    if (plan === null || this.closed) return;
    const desc = plan.descriptions[this.runIndex];
    let handle = this.handles.get(desc);
    if (handle === undefined) {
      try {
        handle = PipelineHandle.parse(desc);
      } catch (err) {
        return this.fail(`GStreamer cannot build the pipeline: ${err instanceof Error ? err.message : String(err)}`);
      }
      if (plan.replayable) this.handles.set(desc, handle);
    }
    this.log.debug({ description: redact(desc) }, "playing");
    const run: Run = { tok: ++this.token, handle, received: 0, eos: false, pullDone: false };
    this.run = run;
    handle.onMessage = (msg) => this.onBus(run, msg);
    this.watchdog.arm(this.opts.startTimeoutMs, `no frame within ${this.opts.startTimeoutMs} ms of start`);
    if (!handle.play()) {
      this.handles.delete(desc);
      return this.fail("the pipeline cannot start: an element failed to open its resource");
    }
    this.pull(run);
  }

  private pull(run: Run): void {
    const target = this.sampleBytes > 0 ? this.pool.take(this.sampleBytes) : undefined;
    run.handle.sink.pull((buf, caps, bytes) => {
      const pooled = target !== undefined && buf === target;
      // An unused target (end of stream, or a sample that did not fit) goes straight back.
      if (target !== undefined && !pooled) this.pool.give(target);
      if (this.closed) return;
      if (buf === null) {
        run.pullDone = true;
        if (run.tok === this.token && run.eos) this.endOfStream(run);
        return;
      }
      const sample = pooled ? buf.subarray(0, bytes) : buf;
      this.sampleBytes = sample.length;
      try {
        this.onSample(run, sample, caps, pooled ? this.pool.giver(target) : undefined);
      } catch (err) {
        // The buffer is not given back: a consumer may already hold the frame.
        this.log.error({ err }, "frame handling failed");
      }
      if (run.tok !== this.token) return;
      if (this.wants()) return this.pull(run);
      this.parked = run;
      this.watchdog.disarm();
    }, target);
  }

  /** Arms the watchdog for the longest gap between frames a running source may leave. */
  private armStall(): void {
    const stall = Math.max(this.opts.stallTimeoutMs, this.plan?.fps === undefined ? 0 : 3000 / this.plan.fps);
    this.watchdog.arm(stall, `no frame for ${Math.round(stall)} ms`);
  }

  /** `release`: gives the sample's buffer back to the pool (pooled samples only). */
  private onSample(run: Run, buf: Buffer, caps: SampleCaps, release: (() => void) | undefined): void {
    const current = run.tok === this.token;
    if (current) run.received++;
    const px = readPixels(buf, caps);
    if (typeof px === "string") {
      release?.();
      this.stat.skipped++;
      this.log.debug({ reason: px }, "sample skipped");
      return;
    }
    const now = Date.now();
    if (this.stat.frame(px.width, px.height, now)) this.log.debug({ width: px.width, height: px.height }, "frame size changed");
    if (current) {
      this.armStall();
      if (this.state !== "running") {
        this.backoff.reset();
        this.lastLogged = null;
        this.setState("running");
        this.log.info({ width: px.width, height: px.height, format: px.format }, "camera running");
      }
    }
    this.subject.next({ camera: this.cfg.id, seq: this.seq++, captured_at: now, captured_mono: performance.now(), ...px, release });
  }

  private onBus(run: Run, msg: BusMessage): void {
    if (run.tok !== this.token || this.closed) return;
    try {
      if (msg.type === "error") this.fail(`${msg.message ?? "GStreamer error"} (${msg._src_element_name ?? "pipeline"})`);
      else if (msg.type === "warning") this.log.debug({ msg }, "GStreamer warning");
      else if (msg.type === "eos") {
        run.eos = true;
        // The last frames may still be on their way from the pull thread: wait for its end too.
        if (run.pullDone) this.endOfStream(run);
      }
    } catch (err) {
      this.log.error({ err }, "bus message handling failed");
    }
  }

  /** End of stream: a fault for live sources; else the next run, the next pass, or the end. */
  private endOfStream(run: Run): void {
    const plan = this.plan;
    if (plan === null || !plan.finite) return this.fail("end of stream");
    if (plan.loop && !plan.replayable) {
      if (!run.handle.rewind()) return this.fail("cannot loop: seeking back to the start was refused");
      run.eos = run.pullDone = false;
      this.watchdog.arm(this.opts.startTimeoutMs, `no frame within ${this.opts.startTimeoutMs} ms of looping`);
      return this.pull(run);
    }
    this.teardown();
    if (this.runIndex + 1 < plan.descriptions.length) {
      this.runIndex++;
      // Never play from a bus callback: see PipelineHandle.
      this.timer = setTimeout(() => this.playRun(), 0);
    } else if (plan.loop) {
      this.timer = setTimeout(() => void this.launch(), 0);
    } else {
      this.watchdog.stop();
      this.setState("ended");
      this.log.info({ frames: this.stat.frames }, "camera ended: source played to its end");
      this.subject.complete();
      void plan.dispose().catch((err: unknown) => this.log.warn({ err }, "could not clean up the source"));
    }
  }

  /** Records a failure, stops the pipeline, goes down and schedules a restart after the backoff. */
  private fail(reason: string): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.stat.failure(reason);
    this.teardown();
    this.setState("down");
    const retryMs = this.backoff.take();
    const fields = { reason, retry_in_ms: retryMs, errors: this.stat.errors };
    if (reason !== this.lastLogged) this.log.error(fields, "camera down");
    else this.log.debug(fields, "camera still down");
    this.lastLogged = reason;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.stat.restarts++;
      this.setState("starting");
      void this.launch();
    }, retryMs);
  }

  /** Stops the current pipeline, if any, and counts what its sink dropped. */
  private teardown(): void {
    this.token++;
    this.watchdog.disarm();
    this.parked = null;
    const run = this.run;
    this.run = null;
    if (run === null) return;
    run.handle.onMessage = () => {};
    if (this.plan?.finite === false) this.stat.droppedClosed += run.handle.dropped(run.received, 1);
    run.handle.stop();
  }

  private setState(state: CameraState): void {
    this.state = state;
    if (state !== "starting" && this.settle !== null) {
      this.settle();
      this.settle = null;
    }
  }
}
