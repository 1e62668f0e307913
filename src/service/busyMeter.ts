/**
 * How busy the inference workers were over the last seconds: the share of that window in which
 * the model ran, averaged over the workers (1: every worker ran all the time, i.e. saturated). The
 * bench measures latency against this share (bench/loadCurve.ts): on the project's 2-core box a
 * frame's p99 stays within its budget up to 0.8-0.9 and leaves it past that, sooner on a noisy
 * box (bench/README.md), so an operator watching it sees the headroom a line has before verdicts
 * come late and frames are dropped.
 *
 * Batches are recorded as they end (end time and duration); the share is computed when asked,
 * clipping the batches that began before the window, so two readers (a scrape and /healthz) do
 * not disturb each other.
 */
/** The window {@link BusyMeter} takes its share over by default, ms. */
export const BUSY_WINDOW_MS = 10_000;

/** A busy share as /healthz and the journal give it, to three decimals (the metric keeps them all). */
export const roundBusy = (ratio: number): number => Math.round(ratio * 1000) / 1000;

export class BusyMeter {
  private readonly ends: Float64Array;
  private readonly durations: Float64Array;
  private next = 0;
  private count = 0;
  private readonly startedAt: number;

  /**
   * @param workers inference workers running batches side by side
   * @param windowMs the window the share is taken over
   * @param capacity batches remembered: more than fit in the window at the highest batch rate
   */
  constructor(
    private readonly workers: number,
    readonly windowMs = BUSY_WINDOW_MS,
    capacity = 8192,
    now = performance.now(),
  ) {
    if (!(workers >= 1)) throw new RangeError(`workers must be at least 1, got ${workers}`);
    this.ends = new Float64Array(capacity);
    this.durations = new Float64Array(capacity);
    this.startedAt = now;
  }

  /** Records a batch that ran for `ms` and ended at `end` (performance.now() time). */
  add(ms: number, end = performance.now()): void {
    if (!(ms > 0)) return;
    this.ends[this.next] = end;
    this.durations[this.next] = ms;
    this.next = (this.next + 1) % this.ends.length;
    this.count = Math.min(this.count + 1, this.ends.length);
  }

  /** The share of the window (or of the time since start, if shorter) the workers were running batches, 0..1. */
  ratio(now = performance.now()): number {
    const span = Math.min(this.windowMs, now - this.startedAt);
    if (span <= 0) return 0;
    const from = now - span;
    let busy = 0;
    for (let i = 0; i < this.count; i++) {
      const end = Math.min(this.ends[i], now);
      const start = Math.max(this.ends[i] - this.durations[i], from);
      if (end > start) busy += end - start;
    }
    return Math.min(1, busy / (span * this.workers));
  }
}
