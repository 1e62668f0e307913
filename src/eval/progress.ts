/**
 * A progress line for long evaluation runs, on stderr so that `--json` keeps stdout clean:
 * `eval 120/400 images, 35.2 images/s, ETA 8 s`. On a terminal the line is redrawn in place;
 * otherwise (a log, a pipe) one line is written per interval.
 */

/** Where progress goes: a writable stream such as process.stderr. */
export interface ProgressSink {
  write(chunk: string): unknown;
  /** True on a terminal: redraw in place. */
  isTTY?: boolean;
}

/** Options of ProgressReporter. */
export interface ProgressOptions {
  /** Defaults to process.stderr. */
  sink?: ProgressSink;
  /** Least time between two lines, ms. Defaults to 1000. */
  interval_ms?: number;
  /** Monotonic clock, ms. Defaults to performance.now (tests pass their own). */
  now?: () => number;
  /** Line prefix. Defaults to "eval". */
  label?: string;
}

/** Format a duration for people: "8 s", "3 min 20 s", "1 h 05 min". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return "?";
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
}

/** Counts processed images and reports done/total, throughput and the time left. */
export class ProgressReporter {
  private readonly sink: ProgressSink;
  private readonly interval: number;
  private readonly now: () => number;
  private readonly label: string;
  private readonly start: number;
  private last = -Infinity;
  private count = 0;
  private finished = false;

  /** @param total images the run will process */
  constructor(
    private readonly total: number,
    options: ProgressOptions = {},
  ) {
    this.sink = options.sink ?? process.stderr;
    this.interval = options.interval_ms ?? 1000;
    this.now = options.now ?? (() => performance.now());
    this.label = options.label ?? "eval";
    this.start = this.now();
  }

  /** Images done so far. */
  get done(): number {
    return this.count;
  }

  /** The current line, without newline. */
  line(): string {
    const elapsed = this.now() - this.start;
    const rate = elapsed > 0 ? (this.count * 1000) / elapsed : NaN;
    const left = this.total - this.count;
    const eta = this.count > 0 ? (left * elapsed) / this.count : NaN;
    const rateText = Number.isFinite(rate) ? rate.toFixed(1) : "?";
    return `${this.label} ${this.count}/${this.total} images, ${rateText} images/s, ETA ${formatDuration(eta)}`;
  }

  /** Count `n` more images done; writes a line when the interval has passed. */
  tick(n = 1): void {
    this.count += n;
    const t = this.now();
    if (t - this.last >= this.interval && this.count < this.total) {
      this.last = t;
      this.write(this.line());
    }
  }

  /** Write the final line (with elapsed time) and end it with a newline. Safe twice. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    const elapsed = this.now() - this.start;
    const rate = elapsed > 0 ? ((this.count * 1000) / elapsed).toFixed(1) : "?";
    this.write(`${this.label} ${this.count}/${this.total} images, ${rate} images/s, took ${formatDuration(elapsed)}`);
    if (this.sink.isTTY === true) this.sink.write("\n");
  }

  private write(text: string): void {
    if (this.sink.isTTY === true) this.sink.write(`\r\x1b[2K${text}`);
    else this.sink.write(`${text}\n`);
  }
}
