import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decide } from "../../src/pipeline/decide.js";
import { findRegions } from "../../src/pipeline/regions.js";
import { maskToPixels, pixelMap, type RoiMap } from "../../src/pipeline/roiMap.js";
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
    const r = findRegions(mask, pixelMap(map, w, h));
    assert.equal(r.length, 2);
    assert.deepEqual([r[0].x, r[0].y, r[0].width, r[0].height, r[0].area_px], [1, 1, 6, 1, 6]);
    assert.equal(r[0].cx, 3.5);
    assert.equal(r[0].mean_score, 2);
    assert.ok(Math.abs(r[0].area_pct - 10) < 1e-9);
    // Variance along x of 6 pixels is 35/12, plus 1/12 each way: elongation sqrt(36/12 / (1/12)) = 6.
    assert.ok(Math.abs(r[0].elongation - 6) < 1e-9);
    assert.deepEqual([r[1].x, r[1].y, r[1].width, r[1].height, r[1].area_px, r[1].mean_score], [8, 4, 2, 2, 2, 2]);
  });

  it("measures a map of coarse cells as the same mask drawn pixel by pixel", () => {
    // 4 px cells over a 30 x 22 ROI: the last column and row of cells are 2 px wide.
    const coarse: RoiMap = { data: new Float32Array(8 * 6), width: 8, height: 6, step: 4, roi_width: 30, roi_height: 22 };
    const mask = new Uint8Array(48);
    for (const [i, j, v] of [[1, 1, 2], [2, 1, 3], [3, 2, 1], [7, 5, 4], [6, 5, 4], [7, 4, 2]]) {
      mask[j * 8 + i] = 1;
      coarse.data[j * 8 + i] = v;
    }
    const fine = maskToPixels(mask, coarse);
    const fineMap = new Float32Array(30 * 22);
    for (let y = 0; y < 22; y++) for (let x = 0; x < 30; x++) fineMap[y * 30 + x] = coarse.data[Math.floor(y / 4) * 8 + Math.floor(x / 4)];
    const a = findRegions(mask, coarse);
    const b = findRegions(fine, pixelMap(fineMap, 30, 22));
    assert.equal(a.length, 2);
    assert.equal(a.length, b.length);
    for (let k = 0; k < a.length; k++) {
      for (const key of ["x", "y", "width", "height", "area_px"] as const) assert.equal(a[k][key], b[k][key], key);
      for (const key of ["area_pct", "elongation", "mean_score", "cx", "cy"] as const) assert.ok(Math.abs(a[k][key] - b[k][key]) < 1e-9, `${key}: ${a[k][key]} vs ${b[k][key]}`);
    }
    // The corner region: cells (6..7, 4..5) minus (6, 4): 2 px wide last column, 2 px high last row.
    assert.deepEqual([a[1].x, a[1].y, a[1].width, a[1].height, a[1].area_px], [24, 16, 6, 6, 4 * 2 + 2 * 2 + 2 * 4]);
  });

  it("finds nothing in an empty mask", () => {
    assert.deepEqual(findRegions(new Uint8Array(16), pixelMap(new Float32Array(16), 4, 4)), []);
  });
});

describe("decide", () => {
  it("fails at or above the image threshold and reports the regions above the pixel threshold", () => {
    const f = frame(8, 8);
    const map = new Float32Array(64).fill(0.1);
    map[2 * 8 + 3] = 2;
    map[2 * 8 + 4] = 1.5;
    const d = decide(f, pixelMap(map, 8, 8), { imageThreshold: 1.5, pixelThreshold: 1 });
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
    const d = decide(frame(8, 8), pixelMap(map, 8, 8), { imageThreshold: 1.5, pixelThreshold: 1 });
    assert.equal(d.verdict, "pass");
    assert.deepEqual(d.regions, []);
    assert.equal(d.mask.reduce((a, b) => a + b, 0), 0);
  });

  it("refuses a map that does not cover the frame's ROI", () => {
    assert.throws(() => decide(frame(8, 8), pixelMap(new Float32Array(48), 8, 6), { imageThreshold: 1, pixelThreshold: 1 }), /covers 8x6/);
  });

  it("uses the model's own score when given", () => {
    const d = decide(frame(4, 4), pixelMap(new Float32Array(16), 4, 4), { imageThreshold: 1, pixelThreshold: 1, score: 3 });
    assert.equal(d.verdict, "fail");
    assert.equal(d.score, 3);
  });
});
