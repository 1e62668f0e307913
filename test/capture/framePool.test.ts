import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FramePool } from "../../src/capture/framePool.js";

describe("FramePool", () => {
  it("hands a given-back buffer out again, and makes one only when none is free", () => {
    const pool = new FramePool();
    const a = pool.take(12);
    const b = pool.take(12);
    assert.notEqual(a, b);
    assert.equal(a.length, 12);
    pool.give(a);
    assert.equal(pool.take(12), a);
    assert.deepEqual(pool.stats(), { allocated: 2, reused: 1, refused: 0, free: 0 });
  });

  it("never hands out a buffer that is out: a second give and a foreign buffer are refused", () => {
    const pool = new FramePool();
    const a = pool.take(8);
    pool.give(a);
    pool.give(a);
    pool.give(Buffer.alloc(8));
    assert.equal(pool.stats().refused, 2);
    assert.equal(pool.stats().free, 1);
    const x = pool.take(8);
    const y = pool.take(8);
    assert.equal(x, a);
    assert.notEqual(y, a, "a buffer given twice must not come out twice");
  });

  it("drops free buffers of another size when the frame size changes", () => {
    const pool = new FramePool();
    const small = pool.take(6);
    pool.give(small);
    const big = pool.take(24);
    assert.equal(big.length, 24);
    assert.notEqual(big, small);
    assert.equal(pool.stats().free, 0);
  });

  it("keeps at most maxFree buffers; clear() drops them", () => {
    const pool = new FramePool(2);
    const out = [pool.take(4), pool.take(4), pool.take(4)];
    for (const b of out) pool.give(b);
    assert.equal(pool.stats().free, 2);
    pool.clear();
    assert.equal(pool.stats().free, 0);
  });

  it("giver() gives back once however often it is called", () => {
    const pool = new FramePool();
    const a = pool.take(4);
    const release = pool.giver(a);
    release();
    release();
    assert.deepEqual(pool.stats(), { allocated: 1, reused: 0, refused: 0, free: 1 });
  });
});
