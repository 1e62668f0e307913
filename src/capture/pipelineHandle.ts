import { isAppSink, parsePipeline, type AppSink, type BusMessage, type GstPipeline } from "./gst.js";

/** One play of one pipeline: callbacks carry `tok` and are ignored once another run began. */
export interface Run {
  tok: number;
  handle: PipelineHandle;
  /** Samples pulled in this run. */
  received: number;
  /** The bus said end of stream. */
  eos: boolean;
  /** The pull loop got null (end of stream or stopped). */
  pullDone: boolean;
}

/**
 * One parsed pipeline that a camera plays, stops and plays again, with its bus poller.
 *
 * Why a camera keeps its pipelines instead of parsing a new one for each restart:
 * gstreamer-superficial never frees a pipeline (measured: 0.4 MB per JPEG pipeline, 5.8 MB per
 * 1280x720 test pipeline), while stopping and playing the same one costs nothing.
 *
 * The binding's bus poller holds a libuv pool thread and goes on polling after each message for as
 * long as the pipeline is not in the NULL state at the end of the callback. So a pipeline must get
 * exactly one poller per life between play and stop:
 * - a callback that stops the pipeline ends its poller (the state is NULL when it returns), which is
 *   why play() must never be called from a bus callback or a promise settled in it: use a timer;
 * - stop() from elsewhere leaves the poller waiting; the next message it pops, if the pipeline is still
 *   stopped, ends it, and `pollerAlive` follows that (it is set from `playing` after every callback);
 * - a pipeline that fails to even reach READY in play() (its sink never started) is NULL with messages
 *   left on its bus that would be read by the next play: such a handle is `broken` and thrown away.
 */
export class PipelineHandle {
  /** Called for every bus message while this handle is the camera's current one. */
  onMessage: (msg: BusMessage) => void = () => {};
  /** The pipeline failed to start in a way that forbids playing it again. */
  broken = false;
  private playing = false;
  private pollerAlive = false;

  private constructor(
    readonly description: string,
    private readonly pipeline: GstPipeline,
    /** The appsink named `sink`. */
    readonly sink: AppSink,
  ) {}

  /** Parses a description; throws an Error with GStreamer's reason, or when there is no appsink named sink. */
  static parse(description: string): PipelineHandle {
    const pipeline = parsePipeline(description);
    const sink = pipeline.findChild("sink");
    if (!isAppSink(sink)) {
      pipeline.stop();
      throw new Error(sink === undefined ? "the pipeline has no element named sink" : "the element named sink is not an appsink");
    }
    return new PipelineHandle(description, pipeline, sink);
  }

  /** Plays; false when the pipeline could not start at all (the handle is then broken and stopped). */
  play(): boolean {
    if (this.broken) return false;
    if (!this.pollerAlive) {
      this.pollerAlive = true;
      this.pipeline.pollBus((msg) => this.dispatch(msg));
    }
    this.playing = true;
    this.pipeline.play();
    // The sink starts (and stops reporting eos) as soon as the pipeline passed READY; if it did not,
    // an element failed in NULL -> READY and the whole pipeline stayed NULL.
    if (this.sink.eos) {
      this.broken = true;
      this.stop();
      return false;
    }
    return true;
  }

  /** Stops (NULL state): frees the pool threads of waiting pulls; safe to call twice. */
  stop(): void {
    this.playing = false;
    this.pipeline.stop();
  }

  /** Loops a finite pipeline: a flushing seek back to its start; false when refused. */
  rewind(): boolean {
    return this.pipeline.seek(0, 1 | 4); // GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_KEY_UNIT
  }

  /**
   * Frames the sink threw away since it last started: the buffers it took (GstBaseSink stats'
   * `rendered`) less the `received` ones and the `inFlight` ones that may still be on their way.
   */
  dropped(received: number, inFlight: number): number {
    const m = /rendered=\(guint64\)(\d+)/.exec(String(this.sink.stats));
    return m === null ? 0 : Math.max(0, Number(m[1]) - received - inFlight);
  }

  private dispatch(msg: BusMessage): void {
    try {
      this.onMessage(msg);
    } finally {
      this.pollerAlive = this.playing;
    }
  }
}
