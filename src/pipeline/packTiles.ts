import { asyncScheduler, Observable, type OperatorFunction, type SchedulerLike, type Subscription } from "rxjs";

/** A batch of jobs whose model inputs sit packed in one buffer, in job order. */
export interface PackedBatch<J> {
  /** jobs.length inputs of `size` values each, at the start of the buffer. */
  input: Float32Array;
  jobs: J[];
}

/** How {@link packTiles} gets buffers and fills one input. */
export interface PackOptions<J> {
  maxItems: number;
  maxWaitMs: number;
  /** Values of one input. */
  size: number;
  /** A buffer for up to `n` inputs (a pooled one where it can). */
  alloc: (n: number) => Float32Array;
  /** Writes the input of `job` into `out` (exactly `size` values). */
  fill: (job: J, out: Float32Array) => void;
  scheduler?: SchedulerLike;
  /**
   * True while a partial batch whose wait is over should still be held: jobs are on their way
   * (e.g. {@link TurnQueue.pending}), or the model has batches enough queued that a fuller batch
   * costs no time. Re-checked on each job and on each `recheck` emission.
   */
  hold?: () => boolean;
  /**
   * True when the `n` jobs on hand should leave now, full or not and wait over or not (a worker
   * sits idle and they are its share). Checked on each job and on each `recheck` emission.
   */
  early?: (n: number) => boolean;
  /** Emits when `hold` may have turned false or `early` true (a batch came back). */
  recheck?: Observable<unknown>;
}

/**
 * Batches jobs across frames and cameras, writing each input straight into the batch's buffer as
 * its job arrives: no per-tile array, no packing copy. A full batch leaves at once, a partial one `maxWaitMs` after
 * its first job (or at once when `early` says so); the rest is flushed on completion. Jobs keep
 * their order.
 */
export function packTiles<J>(o: PackOptions<J>): OperatorFunction<J, PackedBatch<J>> {
  const scheduler = o.scheduler ?? asyncScheduler;
  return (source) =>
    new Observable<PackedBatch<J>>((subscriber) => {
      let buf: Float32Array | null = null;
      let jobs: J[] = [];
      let timer: Subscription | null = null;
      let expired = false;
      const hold = o.hold ?? (() => false);
      const early = o.early ?? (() => false);
      const due = () => (expired && !hold()) || early(jobs.length);
      const flush = () => {
        timer?.unsubscribe();
        timer = null;
        expired = false;
        if (!buf || jobs.length === 0) return;
        const out = { input: buf.subarray(0, jobs.length * o.size), jobs };
        buf = null;
        jobs = [];
        subscriber.next(out);
      };
      const onWait = () => {
        timer = null;
        if (hold()) expired = true;
        else flush();
      };
      const rechecks = o.recheck?.subscribe(() => {
        if (jobs.length > 0 && due()) flush();
      });
      const sub = source.subscribe({
        next: (job) => {
          buf ??= o.alloc(o.maxItems);
          const at = jobs.length * o.size;
          o.fill(job, buf.subarray(at, at + o.size));
          jobs.push(job);
          if (jobs.length >= o.maxItems || due()) flush();
          else if (!timer && !expired) timer = scheduler.schedule(onWait, o.maxWaitMs);
        },
        error: (err) => subscriber.error(err),
        complete: () => {
          flush();
          subscriber.complete();
        },
      });
      return () => {
        sub.unsubscribe();
        rechecks?.unsubscribe();
        timer?.unsubscribe();
      };
    });
}

/**
 * Re-emits each item on its own turn of the event loop (setImmediate), so a burst of heavy items
 * (the tiles of a frame, the maps of a batch) lets timers and I/O run between them. `pending` is
 * how many items wait for their turn.
 */
export class TurnQueue<T> {
  private queue: T[] = [];

  /** Items received and not yet re-emitted. */
  get pending(): number {
    return this.queue.length;
  }

  /** The operator; use it once. */
  operator(): OperatorFunction<T, T> {
    const queue = this.queue;
    return (source) =>
      new Observable<T>((subscriber) => {
        let handle: NodeJS.Immediate | null = null;
        let done = false;
        let emitting = false;
        const step = () => {
          handle = null;
          emitting = true;
          if (queue.length) subscriber.next(queue.shift() as T);
          emitting = false;
          if (queue.length) handle = setImmediate(step);
          else if (done) subscriber.complete();
        };
        const sub = source.subscribe({
          next: (item) => {
            queue.push(item);
            handle ??= setImmediate(step);
          },
          error: (err) => subscriber.error(err),
          complete: () => {
            done = true;
            // The source may complete from inside our own emission: complete after it returns.
            if (!handle && queue.length === 0 && !emitting) subscriber.complete();
          },
        });
        return () => {
          sub.unsubscribe();
          if (handle) clearImmediate(handle);
          queue.length = 0;
        };
      });
  }
}
