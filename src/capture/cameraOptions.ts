import type { CameraConfig } from "../config/camera.js";

/** Timings of a camera's fault handling; tests shorten them. */
export interface CameraOptions {
  /** First wait before a restart, ms; doubled after each failure (default 500). */
  backoffInitialMs?: number;
  /** Longest wait before a restart, ms (default 10000). */
  backoffMaxMs?: number;
  /** A pipeline without a first frame this long after play is a failure, ms (default 10000). */
  startTimeoutMs?: number;
  /**
   * A running camera without a frame this long is a failure, ms (default: the camera's
   * stale_after_ms; a paced source also gets at least 3 of its frame intervals).
   */
  stallTimeoutMs?: number;
}

/** The options with their defaults filled in. */
export function resolveOptions(options: CameraOptions, cfg: CameraConfig): Required<CameraOptions> {
  return {
    backoffInitialMs: options.backoffInitialMs ?? 500,
    backoffMaxMs: options.backoffMaxMs ?? 10_000,
    startTimeoutMs: options.startTimeoutMs ?? 10_000,
    stallTimeoutMs: options.stallTimeoutMs ?? cfg.stale_after_ms,
  };
}

/** Exponential backoff: initial, doubled after each use up to max, back to initial on reset(). */
export class Backoff {
  private next: number;

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
  ) {
    this.next = initialMs;
  }

  /** The wait to use now, ms; the following one doubles. */
  take(): number {
    const ms = this.next;
    this.next = Math.min(this.next * 2, this.maxMs);
    return ms;
  }

  /** Back to the initial wait (after a success). */
  reset(): void {
    this.next = this.initialMs;
  }
}

/** A deadline checked on an interval: calls onExpire(reason) once it passes, until re-armed. */
export class Watchdog {
  private deadline = Infinity;
  private reason = "";
  private interval: NodeJS.Timeout | null = null;

  constructor(private readonly onExpire: (reason: string) => void) {}

  /** Starts checking every tickMs. */
  start(tickMs: number): void {
    this.interval ??= setInterval(() => {
      if (performance.now() > this.deadline) {
        this.deadline = Infinity;
        this.onExpire(this.reason);
      }
    }, tickMs);
  }

  /** Expires ms from now, with this reason, unless armed again before. */
  arm(ms: number, reason: string): void {
    this.deadline = performance.now() + ms;
    this.reason = reason;
  }

  /** No deadline until the next arm(). */
  disarm(): void {
    this.deadline = Infinity;
  }

  /** Stops checking. */
  stop(): void {
    if (this.interval !== null) clearInterval(this.interval);
    this.interval = null;
  }
}
