/**
 * At most one job per key per interval, and one at a time per key: the rate and concurrency bound
 * of thumbnails (key: camera and verdict) and of the archive of failed parts (key: camera).
 */
export class KeyedThrottle {
  /** When the last job of each key started, ms of `now`. */
  private readonly last = new Map<string, number>();
  private readonly busy = new Set<string>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Whether a job of `key` may start now: none running, and none started within `interval_ms`. */
  due(key: string, interval_ms: number): boolean {
    if (this.busy.has(key)) return false;
    const last = this.last.get(key);
    return last === undefined || this.now() - last >= interval_ms;
  }

  /** Starts a job of `key` when due (true: call {@link done} when it ends), else false. */
  begin(key: string, interval_ms: number): boolean {
    if (!this.due(key, interval_ms)) return false;
    this.last.set(key, this.now());
    this.busy.add(key);
    return true;
  }

  /** The job of `key` has ended. */
  done(key: string): void {
    this.busy.delete(key);
  }
}
