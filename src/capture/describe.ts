/**
 * What every source kind shares: the plan a builder returns, and the common tail of every
 * description (optional fps cap, conversion to packed RGB, the appsink).
 */

/** What a source kind turns a camera config into. */
export interface SourcePlan {
  /**
   * gst-launch descriptions, each ending in `appsink name=sink`, played one after another: the camera
   * moves to the next at end of stream. Live kinds have one; an images folder has one per run of
   * files of the same format.
   */
  descriptions: string[];
  /** The source ends by itself (file, images): end of stream ends a pass instead of being a fault. */
  finite: boolean;
  /** For finite sources: start a new pass after the last description; else the camera ends. */
  loop: boolean;
  /**
   * The pipelines can be stopped and played again. Not so when pads are linked on the fly (decodebin,
   * rtspsrc): gst-launch links a pad that appears later only once, so each restart parses the
   * description anew, and a finite one loops by seeking back to its start.
   */
  replayable: boolean;
  /** Frames per second a finite source is paced at, when known (sets the stall watchdog). */
  fps?: number;
  /** Releases what building the plan made (staging folders); safe to call twice. */
  dispose(): Promise<void>;
}

/**
 * How the appsink takes frames.
 * - `live`: cameras and streams. sync=false (render as soon as decoded, the source sets the pace),
 *   drop=true max-buffers=2: when the consumer is slow the oldest frame goes, so what is inspected is
 *   at most one frame old, and GStreamer never blocks the network or device.
 * - `paced`: files and image folders. sync=true so they play at their frame rate against the pipeline
 *   clock, drop=false max-buffers=2: a slow consumer slows playback instead of skipping frames, so
 *   every image of a folder is delivered (the demo's images carry their truth).
 * Both: enable-last-sample=false, so the sink keeps no extra reference to a frame.
 */
export type SinkMode = "live" | "paced";

/** Queue length of the appsink, in frames, for both modes. */
export const SINK_MAX_BUFFERS = 2;

const SINK_PROPS: Record<SinkMode, string> = {
  live: `sync=false drop=true max-buffers=${SINK_MAX_BUFFERS} enable-last-sample=false`,
  paced: `sync=true drop=false max-buffers=${SINK_MAX_BUFFERS} enable-last-sample=false`,
};

/** A frame rate as a GStreamer fraction, `N/D`, exact to 1/1000 fps (0.5 -> `1/2`, 29.97 -> `2997/100`). */
export function fraction(fps: number): string {
  if (!(fps > 0) || !Number.isFinite(fps)) throw new RangeError(`fps must be a positive number, got ${fps}`);
  let num = Math.round(fps * 1000);
  let den = 1000;
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  const g = gcd(num, den);
  num /= g;
  den /= g;
  return `${num}/${den}`;
}

/** A property value quoted for a gst-launch description (paths and URLs may hold spaces or `!`). */
export function quote(value: string): string {
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/**
 * The common end of every built description: `[videorate drop-only=true ! video/x-raw,framerate=N/D !]
 * videoconvert ! video/x-raw,format=RGB ! appsink name=sink ...`. The fps cap only drops frames
 * (drop-only) so a slower source is never padded with duplicates; it sits before videoconvert so
 * dropped frames are never converted.
 */
export function sinkTail(mode: SinkMode, fps?: number): string {
  const rate = fps === undefined ? "" : `videorate drop-only=true ! video/x-raw,framerate=${fraction(fps)} ! `;
  return `${rate}videoconvert ! video/x-raw,format=RGB ! appsink name=sink ${SINK_PROPS[mode]}`;
}

/** Elements whose pads appear while playing, which a stopped pipeline cannot link again. */
const DYNAMIC_PADS = /\b(decodebin3?|uridecodebin3?|rtspsrc|parsebin|urisourcebin|playbin3?|\w+demux)\b/;

/** A plan of one description with nothing to release; replayable unless it has dynamic pads. */
export function singlePlan(description: string, finite: boolean, loop: boolean, fps?: number): SourcePlan {
  return { descriptions: [description], finite, loop, fps, replayable: !DYNAMIC_PADS.test(description), dispose: async () => {} };
}

/** A description with passwords in URLs masked, for logs. */
export function redact(description: string): string {
  return description.replace(/(\w+:\/\/[^:/@\s"]+:)[^@\s"]+@/g, "$1***@");
}
