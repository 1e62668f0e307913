import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { lastValueFrom, Subject, toArray } from "rxjs";
import { inOrder } from "../../src/pipeline/inOrder.js";

describe("inOrder", () => {
  it("passes values on in the order of their numbers, each as soon as all before it are in", () => {
    const src = new Subject<{ seq: number; value: string }>();
    const seen: string[] = [];
    src.pipe(inOrder()).subscribe((v) => seen.push(v));
    src.next({ seq: 1, value: "b" });
    src.next({ seq: 3, value: "d" });
    assert.deepEqual(seen, [], "held until 0 arrives");
    src.next({ seq: 0, value: "a" });
    assert.deepEqual(seen, ["a", "b"]);
    src.next({ seq: 2, value: "c" });
    assert.deepEqual(seen, ["a", "b", "c", "d"]);
    src.next({ seq: 4, value: "e" });
    assert.deepEqual(seen, ["a", "b", "c", "d", "e"], "in order: passed at once");
  });

  it("passes on what is still held, in order, when the source completes", async () => {
    const src = new Subject<{ seq: number; value: number }>();
    const all = lastValueFrom(src.pipe(inOrder(), toArray()));
    src.next({ seq: 5, value: 5 });
    src.next({ seq: 2, value: 2 });
    src.complete();
    assert.deepEqual(await all, [2, 5]);
  });
});
