import type { CameraKind } from "./registry.js";

/**
 * Where a camera stands. starting: a pipeline plays, no frame yet; running: frames arrive;
 * down: it failed and waits to retry; ended: a file or folder played once to its end;
 * stopped: stop() was called (or start() never was).
 */
export type CameraState = "starting" | "running" | "down" | "ended" | "stopped";

/** Counters and state of one camera, for health and metrics. */
export interface CameraStats {
  id: string;
  kind: CameraKind;
  state: CameraState;
  /** Wall-clock time of the last frame, ms since the epoch; null before the first. */
  last_frame_at: number | null;
  /** Frames delivered on frames$. */
  frames: number;
  /** Frames the appsink threw away because the consumer was behind (live kinds; +-3 while running). */
  dropped: number;
  /** Samples refused as malformed: empty, of the wrong size or of an unsupported format. */
  skipped: number;
  /** Failures: bus errors, unexpected end of stream, watchdog timeouts, sources missing. */
  errors: number;
  /** Restarts after failures (a file or folder starting over is not one). */
  restarts: number;
  /** Reason of the last failure; null before the first. */
  last_error: string | null;
  /** Size of the last frame, px; null before the first. */
  width: number | null;
  height: number | null;
}

/** The counters behind CameraStats, kept by a camera. */
export class StatsRecorder {
  frames = 0;
  skipped = 0;
  errors = 0;
  restarts = 0;
  /** Drops of pipelines already stopped. */
  droppedClosed = 0;
  lastFrameAt: number | null = null;
  lastError: string | null = null;
  width: number | null = null;
  height: number | null = null;

  /** Counts a delivered frame; true when its size differs from the previous one. */
  frame(width: number, height: number, at: number): boolean {
    this.frames++;
    this.lastFrameAt = at;
    const changed = width !== this.width || height !== this.height;
    this.width = width;
    this.height = height;
    return changed;
  }

  /** Counts a failure and keeps its reason. */
  failure(reason: string): void {
    this.errors++;
    this.lastError = reason;
  }

  /** The public snapshot; `droppedRunning` is the estimate for the pipeline now playing. */
  snapshot(id: string, kind: CameraKind, state: CameraState, droppedRunning: number): CameraStats {
    return {
      id,
      kind,
      state,
      last_frame_at: this.lastFrameAt,
      frames: this.frames,
      dropped: this.droppedClosed + droppedRunning,
      skipped: this.skipped,
      errors: this.errors,
      restarts: this.restarts,
      last_error: this.lastError,
      width: this.width,
      height: this.height,
    };
  }
}
