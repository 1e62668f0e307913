import { BUSY_WINDOW_MS, roundBusy } from "./busyMeter.js";

/** What {@link LoadWatch.observe} says, when it has something to say. */
export type LoadNotice =
  | { level: "warn"; msg: string; dropped: number; dropped_by_camera: Record<string, number>; inference_busy: number }
  | { level: "info"; msg: string; inference_busy: number };

/**
 * Tells the journal when inference cannot keep up with the cameras, at most once a period: frames
 * were dropped (capture takes a frame only when the pipeline has room, so drops are the sign of a
 * model running behind), or the workers ran most of the time, where latency grows though nothing
 * is dropped yet. Once it has warned, it says when the line is back within its means. The daemon
 * calls `observe` every second with each camera's total of frames dropped so far and the inference
 * busy share.
 */
export class LoadWatch {
  private periodStart: number | null = null;
  private droppedAtStart = new Map<string, number>();
  private warned = false;

  /**
   * @param periodMs how often, at most, it speaks
   * @param busyWarn the busy share over which it warns without drops (the knee of the latency
   *   curve on the project's 2-core box is between 0.8 and 0.9: bench/loadCurve.ts, bench/README.md)
   */
  constructor(
    readonly periodMs = 60_000,
    readonly busyWarn = 0.8,
  ) {}

  /** `droppedByCamera`: each camera's frames dropped since the daemon started; `busy`: BusyMeter's share. */
  observe(now: number, droppedByCamera: ReadonlyMap<string, number>, busy: number): LoadNotice | null {
    if (this.periodStart === null) {
      this.periodStart = now;
      this.droppedAtStart = new Map(droppedByCamera);
      return null;
    }
    const elapsed = now - this.periodStart;
    if (elapsed < this.periodMs) return null;
    const byCamera: Record<string, number> = {};
    let dropped = 0;
    for (const [camera, total] of droppedByCamera) {
      const n = Math.max(0, total - (this.droppedAtStart.get(camera) ?? 0));
      if (n > 0) byCamera[camera] = n;
      dropped += n;
    }
    this.periodStart = now;
    this.droppedAtStart = new Map(droppedByCamera);
    const b = roundBusy(busy);
    // The period actually measured: a tick can come a little late.
    const secs = Math.round(elapsed / 1000);
    if (dropped > 0) {
      this.warned = true;
      return { level: "warn", dropped, dropped_by_camera: byCamera, inference_busy: b, msg: `inference falls behind the cameras: ${dropped} frame(s) dropped in the last ${secs} s; lower the cameras' fps, narrow their ROI, or give the model more cores or a GPU` };
    }
    if (busy >= this.busyWarn) {
      this.warned = true;
      return { level: "warn", dropped: 0, dropped_by_camera: {}, inference_busy: b, msg: `inference is near saturation: the workers ran ${Math.round(busy * 100)} % of the last ${BUSY_WINDOW_MS / 1000} s; results come later as it nears 100 %` };
    }
    if (this.warned) {
      this.warned = false;
      return { level: "info", inference_busy: b, msg: `inference keeps up again: no frame dropped in the last ${secs} s` };
    }
    return null;
  }
}
