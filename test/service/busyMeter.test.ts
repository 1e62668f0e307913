import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BusyMeter } from "../../src/service/busyMeter.js";

const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-9, `${a} is not ${b}`);

describe("BusyMeter", () => {
  it("is the model's running time over the window, averaged over the workers", () => {
    const m = new BusyMeter(2, 1000, 64, 0);
    // Worker A: 0-400 and 500-900; worker B: 100-300. Window at t = 1000 is 0-1000.
    m.add(400, 400);
    m.add(200, 300);
    m.add(400, 900);
    close(m.ratio(1000), (400 + 200 + 400) / (2 * 1000));
  });

  it("counts only the part of a batch inside the window", () => {
    const m = new BusyMeter(1, 1000, 64, 0);
    m.add(300, 1100); // ran 800-1100: 100 ms of it lies in 1000-2000
    m.add(500, 1900); // ran 1400-1900, all inside
    m.add(200, 500); // ran 300-500, before the window
    close(m.ratio(2000), (100 + 500) / 1000);
  });

  it("takes the time since start while that is shorter than the window", () => {
    const m = new BusyMeter(1, 10_000, 64, 0);
    m.add(250, 500);
    close(m.ratio(1000), 0.25);
    assert.equal(new BusyMeter(1, 1000, 64, 0).ratio(0), 0);
  });

  it("reads 1 when every worker ran all the time, and never more", () => {
    const m = new BusyMeter(2, 1000, 64, 0);
    for (let t = 100; t <= 1000; t += 100) {
      m.add(100, t);
      m.add(100, t);
    }
    close(m.ratio(1000), 1);
    m.add(400, 1000); // a third batch at once (a miscount): still capped
    assert.equal(m.ratio(1000), 1);
  });

  it("forgets the oldest batches past its capacity", () => {
    const m = new BusyMeter(1, 1000, 4, 0);
    for (let t = 100; t <= 1000; t += 100) m.add(50, t);
    // Only the last four (ending 700-1000) are remembered.
    close(m.ratio(1000), (4 * 50) / 1000);
  });

  it("ignores batches of no time and refuses a meter of no workers", () => {
    const m = new BusyMeter(1, 1000, 8, 0);
    m.add(0, 500);
    m.add(Number.NaN, 500);
    assert.equal(m.ratio(1000), 0);
    assert.throws(() => new BusyMeter(0), /workers must be at least 1/);
  });
});
