/**
 * The one place that loads the GStreamer binding (gstreamer-superficial), with the small typed
 * surface linewatch uses. Only src/capture imports this file.
 */
import { createRequire } from "node:module";

/** A bus message as the binding hands it over: the message's structure fields, flattened. */
export interface BusMessage {
  /** GStreamer message type name: "error", "eos", "warning", "state-changed", ... */
  type: string;
  /** Error and warning text (set for "error"). */
  message?: string;
  /** Name of the element that posted the message. */
  _src_element_name?: string;
  /** Debug detail of errors and warnings, when GStreamer gives one. */
  debug?: string;
  [field: string]: unknown;
}

/** Caps of a sample, flattened from their first structure (`video/x-raw`, width, height, format, ...). */
export interface SampleCaps {
  name?: string;
  width?: number;
  height?: number;
  format?: string;
  [field: string]: unknown;
}

/** An appsink as the binding wraps it: GObject properties plus `pull`. */
export interface AppSink {
  /**
   * Waits, on a libuv pool thread, for the next sample and calls back on the main thread with a copy
   * of its bytes, or with null at end of stream or when the sink is flushing (stopped). With
   * `target` (linewatch's patch of the binding, scripts/patchGstreamer.mjs) the copy is made into
   * `target` on the pool thread when the sample fits, and the callback gets `target` itself and
   * the sample's size in `bytes`; a larger sample comes in a new Buffer as without it.
   */
  pull(cb: (buf: Buffer | null, caps: SampleCaps, bytes?: number) => void, target?: Buffer): void;
  /** True until the sink has started (pipeline reached PAUSED) and again at end of stream. */
  readonly eos: boolean;
  /** GstBaseSink statistics serialised as a string, e.g. `..., rendered=(guint64)200;`. */
  readonly stats: string;
}

/** A GStreamer pipeline built from a gst-launch description. */
export interface GstPipeline {
  play(): void;
  stop(): void;
  pause(): void;
  /** Seeks to `seconds` with GstSeekFlags `flags` (1 = FLUSH, 4 = KEY_UNIT); false when refused. */
  seek(seconds: number, flags: number): boolean;
  /**
   * Pops bus messages on a libuv pool thread and calls back on the main thread; the polling stops
   * after a callback that leaves the pipeline in the NULL state (see busPoller.ts).
   */
  pollBus(cb: (msg: BusMessage) => void): void;
  /** The element of that name, with its properties as fields; undefined when there is none. */
  findChild(name: string): Record<string, unknown> | undefined;
}

interface Binding {
  Pipeline: new (description: string) => GstPipeline;
}

const require = createRequire(import.meta.url);
// The binding is a CommonJS native addon without type declarations; Binding above is its surface.
const binding = require("gstreamer-superficial") as Binding;

/** Parses a description into a pipeline; throws the parser's message (e.g. `no element "foo"`). */
export function parsePipeline(description: string): GstPipeline {
  return new binding.Pipeline(description);
}

/** Whether a found element is an appsink (the binding adds `pull` to appsinks only). */
export function isAppSink(el: Record<string, unknown> | undefined): el is Record<string, unknown> & AppSink {
  return el !== undefined && typeof el.pull === "function";
}

let threadpoolWarned = false;

/**
 * Warns once when the libuv pool looks too small: every camera holds two pool threads (a waiting
 * pull and a waiting bus poll), and the pool is 4 threads unless UV_THREADPOOL_SIZE says otherwise
 * before the first use.
 */
export function warnSmallThreadpool(warn: (size: number) => void): void {
  const size = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  if (size < 8 && !threadpoolWarned) {
    threadpoolWarned = true;
    warn(size);
  }
}
