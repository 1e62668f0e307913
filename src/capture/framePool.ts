/** What a camera's pool has done, for /metrics and tests. */
export interface FramePoolStats {
  /** Buffers made because none was free. */
  allocated: number;
  /** Buffers handed out again after coming back. */
  reused: number;
  /** Gives refused: a buffer given twice, or one this pool never handed out. */
  refused: number;
  /** Buffers waiting to be handed out. */
  free: number;
}

/**
 * A camera's frame buffers, handed out to the appsink pull (which copies the next sample into one
 * on its pool thread) and given back when the last user of the frame is done with its pixels.
 *
 * Why: the binding's plain pull makes a new Buffer per sample. At 30 fps of 1080p that is 180 MB/s
 * of external memory, and V8 collects dead ArrayBuffers only at its own pace: between full
 * collections tens of MB of dead frames pile up (64 MB may accumulate after a full collection
 * before the next is forced), which shows as RSS that steps up and stays, and the allocation rate
 * itself drives collections (hundreds of scavenges a minute at 4 x 512x512 at 20 fps).
 *
 * A buffer that is never given back is not lost: it is collected like any other, and the pool
 * makes a new one. Giving one back while its pixels are still read is the one thing that must
 * not happen (a later frame would overwrite them): give back only from the last user.
 */
export class FramePool {
  private readonly free: Buffer[] = [];
  /** Handed out and not yet given back. */
  private readonly out = new WeakSet<Buffer>();
  private readonly counts = { allocated: 0, reused: 0, refused: 0 };

  /** `maxFree`: buffers kept while none is out; more given back are left to the collector. */
  constructor(readonly maxFree = 4) {}

  /** A buffer of exactly `bytes`; free buffers of another size (the frame size changed) are dropped. */
  take(bytes: number): Buffer {
    let buf: Buffer | undefined;
    // Pops past (drops) free buffers of another size; none left means none fits.
    while ((buf = this.free.pop()) !== undefined && buf.length !== bytes);
    if (buf === undefined) {
      buf = Buffer.allocUnsafeSlow(bytes);
      this.counts.allocated++;
    } else {
      this.counts.reused++;
    }
    this.out.add(buf);
    return buf;
  }

  /** Takes `buf` back; refused (and counted) when it is not out. */
  give(buf: Buffer): void {
    if (!this.out.delete(buf)) {
      this.counts.refused++;
      return;
    }
    if (this.free.length < this.maxFree) this.free.push(buf);
  }

  /** A function that gives `buf` back the first time it is called and does nothing after. */
  giver(buf: Buffer): () => void {
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.give(buf);
    };
  }

  /** Drops the free buffers (the camera stopped). */
  clear(): void {
    this.free.length = 0;
  }

  stats(): FramePoolStats {
    return { ...this.counts, free: this.free.length };
  }
}
