import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TestScheduler } from "rxjs/testing";
import { batchTiles } from "../../src/pipeline/batch.js";

const scheduler = () => new TestScheduler((actual, expected) => assert.deepEqual(actual, expected));

describe("batchTiles (virtual time)", () => {
  it("emits a full batch at once", () => {
    scheduler().run(({ cold, expectObservable }) => {
      const src = cold("abcd|");
      expectObservable(src.pipe(batchTiles(2, 50))).toBe("-x-y|", { x: ["a", "b"], y: ["c", "d"] });
    });
  });

  it("flushes a partial batch after the maximum wait from its first item", () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      const src = cold("a 9ms b 100ms c 200ms |");
      // a at 0 -> flushed at 20 with b (b at 10); c at 111 -> flushed at 131; completion at 312.
      expectObservable(src.pipe(batchTiles(8, 20, ts))).toBe("20ms x 110ms y 180ms |", { x: ["a", "b"], y: ["c"] });
    });
  });

  it("flushes what is left on completion and never emits empty batches", () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      expectObservable(cold("ab|").pipe(batchTiles(8, 1000, ts))).toBe("--(x|)", { x: ["a", "b"] });
      expectObservable(cold("-----|").pipe(batchTiles(8, 1, ts))).toBe("-----|");
    });
  });

  it("passes errors through", () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      expectObservable(cold("a#").pipe(batchTiles(8, 10, ts))).toBe("-#");
    });
  });
});
