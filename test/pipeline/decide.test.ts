import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decide } from "../../src/pipeline/decide.js";
import { labelComponents } from "../../src/pipeline/labelComponents.js";
import { findRegions, regionsAbove } from "../../src/pipeline/regions.js";
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

  it("equals regions measured pixel by pixel on random masks of every density", () => {
    // The oracle: the mask drawn at ROI resolution, labelled per pixel, moments summed per pixel.
    const oracle = (fine: Uint8Array, values: Float32Array, W: number, H: number) => {
      const { labels, count } = labelComponents(fine, W, H);
      const r = Array.from({ length: count }, () => ({ n: 0, sx: 0, sy: 0, sxx: 0, syy: 0, sxy: 0, ss: 0, x0: W, y0: H, x1: -1, y1: -1 }));
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const l = labels[y * W + x] - 1;
          if (l < 0) continue;
          const o = r[l];
          o.n++; o.sx += x; o.sy += y; o.sxx += x * x; o.syy += y * y; o.sxy += x * y; o.ss += values[y * W + x];
          o.x0 = Math.min(o.x0, x); o.y0 = Math.min(o.y0, y); o.x1 = Math.max(o.x1, x); o.y1 = Math.max(o.y1, y);
        }
      }
      return r.map((o) => {
        const cx = o.sx / o.n, cy = o.sy / o.n;
        const vxx = o.sxx / o.n - cx * cx + 1 / 12, vyy = o.syy / o.n - cy * cy + 1 / 12, vxy = o.sxy / o.n - cx * cy;
        const disc = Math.sqrt(((vxx - vyy) / 2) ** 2 + vxy * vxy);
        const elongation = Math.sqrt(((vxx + vyy) / 2 + disc) / Math.max((vxx + vyy) / 2 - disc, 1e-9));
        return { x: o.x0, y: o.y0, width: o.x1 - o.x0 + 1, height: o.y1 - o.y0 + 1, area_px: o.n, area_pct: (100 * o.n) / (W * H), elongation, mean_score: o.ss / o.n, cx, cy };
      }).sort((a, b) => b.area_px - a.area_px);
    };
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    let compared = 0;
    for (let round = 0; round < 60; round++) {
      const step = 1 + Math.floor(rand() * 5);
      const W = 5 + Math.floor(rand() * 60), H = 5 + Math.floor(rand() * 40);
      const w = Math.ceil(W / step), h = Math.ceil(H / step);
      const density = [0.02, 0.1, 0.3, 0.6, 0.9][round % 5];
      const mask = new Uint8Array(w * h);
      const map: RoiMap = { data: new Float32Array(w * h), width: w, height: h, step, roi_width: W, roi_height: H };
      for (let p = 0; p < w * h; p++) {
        mask[p] = rand() < density ? 1 : 0;
        map.data[p] = Math.round(rand() * 100) / 10;
      }
      const values = new Float32Array(W * H);
      for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) values[y * W + x] = map.data[Math.floor(y / step) * w + Math.floor(x / step)];
      const got = findRegions(mask, map);
      const want = oracle(maskToPixels(mask, map), values, W, H);
      assert.equal(got.length, want.length, `round ${round}`);
      for (let k = 0; k < got.length; k++) {
        for (const key of ["x", "y", "width", "height", "area_px"] as const) assert.equal(got[k][key], want[k][key], `round ${round} region ${k} ${key}`);
        for (const key of ["area_pct", "elongation", "mean_score", "cx", "cy"] as const) assert.ok(Math.abs(got[k][key] - want[k][key]) < 1e-6 * Math.max(1, Math.abs(want[k][key])), `round ${round} region ${k} ${key}: ${got[k][key]} vs ${want[k][key]}`);
      }
      compared += got.length;
    }
    assert.ok(compared > 200, `only ${compared} regions compared`);
  });

  it("thresholds a map into the same mask and regions in one pass (regionsAbove)", () => {
    let seed = 99;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (let round = 0; round < 30; round++) {
      const step = 1 + (round % 4), W = 7 + Math.floor(rand() * 50), H = 7 + Math.floor(rand() * 30);
      const w = Math.ceil(W / step), h = Math.ceil(H / step);
      const map: RoiMap = { data: new Float32Array(w * h), width: w, height: h, step, roi_width: W, roi_height: H };
      for (let p = 0; p < w * h; p++) map.data[p] = rand() < 0.02 ? NaN : rand() * 2;
      const threshold = 0.4 + rand();
      const mask = new Uint8Array(w * h);
      for (let p = 0; p < w * h; p++) mask[p] = map.data[p] >= threshold ? 1 : 0;
      const got = regionsAbove(map, threshold);
      assert.deepEqual(got.mask, mask, `round ${round}`);
      assert.deepEqual(got.regions, findRegions(mask, map), `round ${round}`);
    }
  });

  it("refuses a mask that does not fit the map", () => {
    assert.throws(() => findRegions(new Uint8Array(15), pixelMap(new Float32Array(16), 4, 4)), RangeError);
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
