import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TestScheduler } from "rxjs/testing";
import { map, type Observable } from "rxjs";
import { packTiles, type PackOptions } from "../../src/pipeline/packTiles.js";

const scheduler = () => new TestScheduler((actual, expected) => assert.deepEqual(actual, expected));

/** Jobs are letters; each input is 2 values holding the letter's code, so packing can be checked. */
const opts = (ts: TestScheduler, maxItems: number, maxWaitMs: number, extra: Partial<PackOptions<string>> = {}): PackOptions<string> => ({
  maxItems,
  maxWaitMs,
  size: 2,
  alloc: (n) => new Float32Array(n * 2),
  fill: (job, out) => out.fill(job.charCodeAt(0)),
  scheduler: ts,
  ...extra,
});
/** What a batch looks like from outside: its jobs, joined, after checking the packed input. */
const jobsOf = (src: Observable<{ input: Float32Array; jobs: string[] }>) =>
  src.pipe(
    map((b) => {
      assert.deepEqual(Array.from(b.input), b.jobs.flatMap((j) => [j.charCodeAt(0), j.charCodeAt(0)]), "inputs packed in job order");
      return b.jobs.join("");
    }),
  );

describe("packTiles (virtual time)", () => {
  it("emits a full batch at once, with the inputs packed in order", () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      expectObservable(jobsOf(cold("abcd|").pipe(packTiles(opts(ts, 2, 50))))).toBe("-x-y|", { x: "ab", y: "cd" });
    });
  });

  it("flushes a partial batch after the maximum wait from its first job", () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      // a at 0, b at 10 -> flushed at 20; c at 111 -> flushed at 131; completion at 312.
      const src = cold("a 9ms b 100ms c 200ms |");
      expectObservable(jobsOf(src.pipe(packTiles(opts(ts, 8, 20))))).toBe("20ms x 110ms y 180ms |", { x: "ab", y: "c" });
    });
  });

  it("flushes what is left on completion and never emits an empty batch", () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      expectObservable(jobsOf(cold("ab|").pipe(packTiles(opts(ts, 8, 1000))))).toBe("--(x|)", { x: "ab" });
      expectObservable(jobsOf(cold("-----|").pipe(packTiles(opts(ts, 8, 1))))).toBe("-----|");
    });
  });

  it("holds a partial batch past its wait while hold() says more is coming, then sends it on recheck", () => {
    const ts = scheduler();
    ts.run(({ cold, hot, expectObservable }) => {
      let holding = true;
      const recheck = hot("50ms r").pipe(map(() => (holding = false)));
      // a at 0: the wait ends at 20 but hold() is true; at 50 the recheck finds hold() false.
      expectObservable(jobsOf(cold("a 100ms |").pipe(packTiles(opts(ts, 8, 20, { hold: () => holding, recheck }))))).toBe("50ms x 50ms |", { x: "a" });
    });
  });

  it("sends the jobs on hand at once when early() says so, full or not and wait over or not", () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      // early from two jobs on: a, b at 0, 1 leave at 1; c alone waits its 20 ms.
      expectObservable(jobsOf(cold("abc 100ms |").pipe(packTiles(opts(ts, 8, 20, { early: (n) => n >= 2 }))))).toBe("-x 20ms y 80ms |", { x: "ab", y: "c" });
    });
  });

  it("re-checks early() when a batch comes back", () => {
    const ts = scheduler();
    ts.run(({ cold, hot, expectObservable }) => {
      let idle = false;
      const recheck = hot("5ms r").pipe(map(() => (idle = true)));
      // a at 0 is not due (wait 20 ms, early false); at 5 a worker is back and early() is true.
      expectObservable(jobsOf(cold("a 100ms |").pipe(packTiles(opts(ts, 8, 20, { early: () => idle, recheck }))))).toBe("5ms x 95ms |", { x: "a" });
    });
  });

  it("passes errors through", () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      expectObservable(jobsOf(cold("a#").pipe(packTiles(opts(ts, 8, 10))))).toBe("-#");
    });
  });
});
