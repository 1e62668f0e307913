import { asyncScheduler, Observable, type OperatorFunction, type SchedulerLike, type Subscription } from "rxjs";

/**
 * Groups items into batches of at most `maxItems`, emitting a full batch at once and a partial one
 * `maxWaitMs` after its first item arrived; the rest is flushed on completion. Items keep their order.
 * Like bufferTime with a size limit, but the clock starts with each batch's first item, so a quiet
 * source costs no timer ticks and no empty batches.
 */
export function batchTiles<T>(maxItems: number, maxWaitMs: number, scheduler: SchedulerLike = asyncScheduler): OperatorFunction<T, T[]> {
  return (source) =>
    new Observable<T[]>((subscriber) => {
      let buffer: T[] = [];
      let timer: Subscription | null = null;
      const flush = () => {
        timer?.unsubscribe();
        timer = null;
        if (buffer.length === 0) return;
        const out = buffer;
        buffer = [];
        subscriber.next(out);
      };
      const sub = source.subscribe({
        next: (item) => {
          buffer.push(item);
          if (buffer.length >= maxItems) flush();
          else if (!timer) timer = scheduler.schedule(flush, maxWaitMs);
        },
        error: (err) => subscriber.error(err),
        complete: () => {
          flush();
          subscriber.complete();
        },
      });
      return () => {
        sub.unsubscribe();
        timer?.unsubscribe();
      };
    });
}
