/**
 * Where results wait while the broker cannot take them. The publisher puts a result here when
 * it is not connected (or when older results still wait, to keep order per camera), and drains
 * it oldest first once connected, removing an entry only after the broker's PUBACK.
 *
 * Issue 4 replaces {@link MemorySpool} with a disk spool under the state directory behind this
 * same interface (bounded by bytes and age, surviving a restart).
 */

/** One result waiting for the broker. */
export interface SpooledMessage {
  topic: string;
  payload: Buffer;
  camera: string;
  seq: number;
  /** When it was spooled, ms since the epoch. */
  queued_at: number;
}

/** Counters and gauges of a spool. */
export interface SpoolStats {
  /** Messages waiting. */
  messages: number;
  /** Payload bytes waiting. */
  bytes: number;
  /** Messages dropped, oldest first, because the spool was full or they were too old. */
  dropped: number;
}

/** A FIFO of results that could not be delivered yet. */
export interface ResultSpool {
  /** Appends a message; drops the oldest (counted) when over the bounds. */
  put(msg: SpooledMessage): Promise<void>;
  /** Up to `max` oldest messages, in the order they were put, without removing them. */
  peek(max: number): Promise<SpooledMessage[]>;
  /** Removes the `count` oldest messages (those delivered after a peek). */
  remove(count: number): Promise<void>;
  /** Messages waiting. */
  size(): number;
  stats(): SpoolStats;
  /** Releases files; safe twice. */
  close(): Promise<void>;
}

/** Bounds of a spool. */
export interface SpoolLimits {
  /** At most this many payload bytes wait; the oldest go first. */
  max_bytes: number;
  /** Messages older than this, in ms, are dropped; 0 keeps them however old. */
  max_age_ms: number;
}

/** An in-memory {@link ResultSpool}: survives broker outages, not daemon restarts. */
export class MemorySpool implements ResultSpool {
  private readonly queue: SpooledMessage[] = [];
  private head = 0;
  private bytes = 0;
  private dropped = 0;

  constructor(
    private readonly limits: SpoolLimits = { max_bytes: 64 * 1024 * 1024, max_age_ms: 0 },
    private readonly now: () => number = Date.now,
  ) {}

  async put(msg: SpooledMessage): Promise<void> {
    this.queue.push(msg);
    this.bytes += msg.payload.length;
    this.trim();
  }

  async peek(max: number): Promise<SpooledMessage[]> {
    this.trim();
    return this.queue.slice(this.head, this.head + max);
  }

  async remove(count: number): Promise<void> {
    const end = Math.min(this.head + count, this.queue.length);
    for (let i = this.head; i < end; i++) this.bytes -= this.queue[i].payload.length;
    this.head = end;
    this.compact();
  }

  size(): number {
    return this.queue.length - this.head;
  }

  stats(): SpoolStats {
    return { messages: this.size(), bytes: this.bytes, dropped: this.dropped };
  }

  async close(): Promise<void> {}

  private trim(): void {
    const oldest = this.limits.max_age_ms > 0 ? this.now() - this.limits.max_age_ms : -Infinity;
    while (this.head < this.queue.length && (this.bytes > this.limits.max_bytes || this.queue[this.head].queued_at < oldest)) {
      this.bytes -= this.queue[this.head].payload.length;
      this.head++;
      this.dropped++;
    }
    this.compact();
  }

  // Shifting an array is O(n); drop the consumed prefix only once it is a good share of it.
  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }
}
