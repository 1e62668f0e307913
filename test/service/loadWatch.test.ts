import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LoadWatch } from "../../src/service/loadWatch.js";

describe("LoadWatch", () => {
  it("stays quiet while the model keeps up", () => {
    const w = new LoadWatch(60_000, 0.8);
    for (let t = 0; t <= 300_000; t += 1000) assert.equal(w.observe(t, 7, 0.4), null);
  });

  it("warns once a period when frames were dropped, with how many, then says when it keeps up again", () => {
    const w = new LoadWatch(60_000, 0.8);
    const said: unknown[] = [];
    let dropped = 3; // dropped before the watch began: not counted
    for (let t = 0; t <= 180_000; t += 1000) {
      if (t > 0 && t <= 100_000) dropped++;
      const n = w.observe(t, dropped, t <= 100_000 ? 0.97 : 0.5);
      if (n) said.push([t, n.level, "dropped" in n ? n.dropped : null, n.inference_busy]);
    }
    assert.deepEqual(said, [
      [60_000, "warn", 60, 0.97],
      [120_000, "warn", 40, 0.5],
      [180_000, "info", null, 0.5],
    ]);
  });

  it("warns without drops when the workers run over the busy threshold at the end of a period", () => {
    const w = new LoadWatch(10_000, 0.8);
    assert.equal(w.observe(0, 0, 0.9), null);
    const n = w.observe(10_000, 0, 0.85);
    assert.equal(n?.level, "warn");
    assert.match(n!.msg, /near saturation: the workers ran 85 %/);
    assert.equal(w.observe(20_000, 0, 0.79)?.level, "info");
    assert.equal(w.observe(30_000, 0, 0.79), null);
  });

  it("names what to do in its warning", () => {
    const w = new LoadWatch(1000);
    w.observe(0, 0, 0);
    assert.match(w.observe(1000, 5, 1)!.msg, /5 frame\(s\) dropped in the last 1 s; lower the cameras' fps, narrow their ROI, or give the model more cores or a GPU/);
  });
});
