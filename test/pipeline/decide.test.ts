import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decide } from "../../src/pipeline/decide.js";
import { findRegions } from "../../src/pipeline/regions.js";
import type { RoiFrame } from "../../src/types.js";

const frame = (w: number, h: number): RoiFrame => ({
  camera: "c", seq: 7, captured_at: 1000, captured_mono: 1, width: w, height: h, format: "GRAY8", data: new Uint8Array(w * h), roi: { x: 0, y: 0, width: w, height: h },
});

describe("findRegions", () => {
  it("finds 8-connected regions with box, area, centroid and elongation", () => {
    const w = 10, h = 6;
    const mask = new Uint8Array(w * h);
    const map = new Float32Array(w * h);
    // A horizontal bar 6x1 at y=1 and a diagonal pair (8-connected) at (8,4),(9,5).
    for (let x = 1; x <= 6; x++) { mask[1 * w + x] = 1; map[1 * w + x] = 2; }
    mask[4 * w + 8] = 1; mask[5 * w + 9] = 1; map[4 * w + 8] = 1; map[5 * w + 9] = 3;
    const r = findRegions(mask, map, w, h);
    assert.equal(r.length, 2);
    assert.deepEqual([r[0].x, r[0].y, r[0].width, r[0].height, r[0].area_px], [1, 1, 6, 1, 6]);
    assert.equal(r[0].cx, 3.5);
    assert.equal(r[0].mean_score, 2);
    assert.ok(Math.abs(r[0].area_pct - 10) < 1e-9);
    // Variance along x of 6 pixels is 35/12, plus 1/12 each way: elongation sqrt(36/12 / (1/12)) = 6.
    assert.ok(Math.abs(r[0].elongation - 6) < 1e-9);
    assert.deepEqual([r[1].x, r[1].y, r[1].width, r[1].height, r[1].area_px, r[1].mean_score], [8, 4, 2, 2, 2, 2]);
  });

  it("finds nothing in an empty mask", () => {
    assert.deepEqual(findRegions(new Uint8Array(16), new Float32Array(16), 4, 4), []);
  });
});

describe("decide", () => {
  it("fails at or above the image threshold and reports the regions above the pixel threshold", () => {
    const f = frame(8, 8);
    const map = new Float32Array(64).fill(0.1);
    map[2 * 8 + 3] = 2;
    map[2 * 8 + 4] = 1.5;
    const d = decide(f, map, { imageThreshold: 1.5, pixelThreshold: 1 });
    assert.equal(d.verdict, "fail");
    assert.equal(d.score, 2);
    assert.equal(d.threshold, 1.5);
    assert.equal(d.regions.length, 1);
    assert.equal(d.regions[0].area_px, 2);
    assert.equal(d.mask.reduce((a, b) => a + b, 0), 2);
    assert.equal(d.frame_id, "c-1000-7");
  });

  it("passes below the threshold with an empty mask even where pixels exceed the pixel threshold", () => {
    const map = new Float32Array(64).fill(0.1);
    map[5] = 1.2;
    const d = decide(frame(8, 8), map, { imageThreshold: 1.5, pixelThreshold: 1 });
    assert.equal(d.verdict, "pass");
    assert.deepEqual(d.regions, []);
    assert.equal(d.mask.reduce((a, b) => a + b, 0), 0);
  });

  it("uses the model's own score when given", () => {
    const d = decide(frame(4, 4), new Float32Array(16), { imageThreshold: 1, pixelThreshold: 1, score: 3 });
    assert.equal(d.verdict, "fail");
    assert.equal(d.score, 3);
  });
});
