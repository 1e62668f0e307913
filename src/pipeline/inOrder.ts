import { Observable, type OperatorFunction } from "rxjs";

/**
 * Puts values numbered 0, 1, 2, ... (each number once) back in that order: a value is held until
 * every lower number has been passed on. Batches run side by side in several inference workers
 * finish in any order; their frames must still be decided in the order they were captured.
 */
export function inOrder<T>(): OperatorFunction<{ seq: number; value: T }, T> {
  return (source) =>
    new Observable<T>((subscriber) => {
      const held = new Map<number, T>();
      let next = 0;
      return source.subscribe({
        next: ({ seq, value }) => {
          held.set(seq, value);
          while (held.has(next)) {
            const v = held.get(next) as T;
            held.delete(next++);
            subscriber.next(v);
          }
        },
        error: (err) => subscriber.error(err),
        complete: () => {
          // Nothing can still arrive: pass on what waits for a number that will never come, in order.
          for (const seq of [...held.keys()].sort((a, b) => a - b)) subscriber.next(held.get(seq) as T);
          subscriber.complete();
        },
      });
    });
}
