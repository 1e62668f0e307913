import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LoadWatch } from "../../src/service/loadWatch.js";

const drops = (entries: Record<string, number>) => new Map(Object.entries(entries));

describe("LoadWatch", () => {
  it("stays quiet while the model keeps up", () => {
    const w = new LoadWatch(60_000, 0.8);
    for (let t = 0; t <= 300_000; t += 1000) assert.equal(w.observe(t, drops({ a: 7 }), 0.4), null);
  });

  it("warns once a period when frames were dropped, with how many and where, then says when it keeps up again", () => {
    const w = new LoadWatch(60_000, 0.8);
    const said: unknown[] = [];
    // Dropped before the watch began: not counted.
    let a = 3, b = 10;
    for (let t = 0; t <= 180_000; t += 1000) {
      if (t > 0 && t <= 100_000) a++;
      if (t > 0 && t <= 30_000) b += 2;
      const n = w.observe(t, drops({ a, b }), t <= 100_000 ? 0.97 : 0.5);
      if (n) said.push([t, n.level, "dropped" in n ? n.dropped : null, "dropped_by_camera" in n ? n.dropped_by_camera : null, n.inference_busy]);
    }
    assert.deepEqual(said, [
      [60_000, "warn", 120, { a: 60, b: 60 }, 0.97],
      [120_000, "warn", 40, { a: 40 }, 0.5],
      [180_000, "info", null, null, 0.5],
    ]);
  });

  it("counts a camera that appears later from zero", () => {
    const w = new LoadWatch(1000);
    w.observe(0, drops({ a: 0 }), 0.5);
    const n = w.observe(1000, drops({ a: 0, late: 4 }), 0.5);
    assert.deepEqual(n && "dropped_by_camera" in n ? n.dropped_by_camera : null, { late: 4 });
  });

  it("warns without drops when the workers run over the busy threshold at the end of a period", () => {
    const w = new LoadWatch(10_000, 0.8);
    assert.equal(w.observe(0, drops({}), 0.9), null);
    const n = w.observe(10_000, drops({}), 0.85);
    assert.equal(n?.level, "warn");
    assert.match(n!.msg, /near saturation: the workers ran 85 %/);
    assert.equal(w.observe(20_000, drops({}), 0.79)?.level, "info");
    assert.equal(w.observe(30_000, drops({}), 0.79), null);
  });

  it("names what to do in its warning", () => {
    const w = new LoadWatch(1000);
    w.observe(0, drops({ a: 0 }), 0);
    assert.match(w.observe(1000, drops({ a: 5 }), 1)!.msg, /5 frame\(s\) dropped in the last 1 s; lower the cameras' fps, narrow their ROI, or give the model more cores or a GPU/);
  });
});
