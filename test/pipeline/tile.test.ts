import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { axisStarts, sampleTile, tilePlan } from "../../src/pipeline/tile.js";
import type { InputSpec } from "../../src/pipeline/tile.js";

/** How many tiles cover each ROI pixel. */
function coverage(w: number, h: number, tile: number, overlap: number): Uint16Array {
  const cov = new Uint16Array(w * h);
  for (const r of tilePlan(w, h, { mode: "grid", tile, overlap })) {
    for (let y = Math.max(0, r.y); y < Math.min(h, r.y + r.height); y++) for (let x = Math.max(0, r.x); x < Math.min(w, r.x + r.width); x++) cov[y * w + x]++;
  }
  return cov;
}

describe("tiling", () => {
  for (const [w, h, tile, overlap] of [
    [1280, 720, 256, 32],
    [1000, 333, 256, 64],
    [257, 257, 256, 0],
    [100, 50, 256, 32],
    [256, 256, 256, 32],
    [1921, 1081, 300, 17],
    [31, 700, 64, 8],
  ]) {
    it(`covers every pixel of ${w}x${h} with ${tile}px tiles, overlap ${overlap}`, () => {
      const cov = coverage(w, h, tile, overlap);
      assert.equal(cov.indexOf(0), -1, "a pixel no tile covers");
      for (const r of tilePlan(w, h, { mode: "grid", tile, overlap })) {
        assert.equal(r.width, tile);
        assert.equal(r.height, tile);
        assert.ok(r.x >= 0 && r.y >= 0);
        // Tiles stay inside the ROI wherever the ROI is at least a tile wide.
        if (w >= tile) assert.ok(r.x + r.width <= w);
        if (h >= tile) assert.ok(r.y + r.height <= h);
      }
    });
  }

  it("spaces tiles evenly with at least the asked overlap, last flush with the edge", () => {
    const s = axisStarts(1000, 256, 32);
    assert.equal(s[0], 0);
    assert.equal(s.at(-1), 1000 - 256);
    for (let i = 1; i < s.length; i++) assert.ok(s[i - 1] + 256 - s[i] >= 32, `overlap between tile ${i - 1} and ${i}`);
    assert.deepEqual(axisStarts(200, 256, 32), [0]);
  });

  it("resize mode is one tile over the whole ROI", () => {
    assert.deepEqual(tilePlan(640, 480, { mode: "resize" }), [{ x: 0, y: 0, width: 640, height: 480 }]);
  });
});

describe("sampleTile", () => {
  const spec: InputSpec = { name: "x", layout: "NCHW", channels: 3, height: 4, width: 4, dynamic_batch: true, scale: 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };

  it("normalises and keeps channels apart", () => {
    const img = { width: 4, height: 4, format: "RGB" as const, data: new Uint8Array(48) };
    for (let i = 0; i < 16; i++) img.data.set([255, 0, 51], i * 3);
    const out = new Float32Array(48);
    sampleTile(img, { x: 0, y: 0, width: 4, height: 4 }, spec, out);
    assert.ok(out.slice(0, 16).every((v) => Math.abs(v - 1) < 1e-6));
    assert.ok(out.slice(16, 32).every((v) => Math.abs(v + 1) < 1e-6));
    assert.ok(out.slice(32, 48).every((v) => Math.abs(v - (0.2 - 0.5) / 0.5) < 1e-6));
  });

  it("repeats edge pixels where a tile reaches past the image", () => {
    const img = { width: 2, height: 2, format: "GRAY8" as const, data: Uint8Array.from([0, 255, 0, 255]) };
    const out = new Float32Array(48);
    sampleTile(img, { x: 0, y: 0, width: 4, height: 4 }, spec, out);
    // Columns 2 and 3 of the tile lie right of the image: they take the right edge's value (255 -> 1).
    for (let v = 0; v < 4; v++) for (const u of [2, 3]) assert.ok(Math.abs(out[v * 4 + u] - 1) < 1e-6);
    assert.ok(Math.abs(out[0] + 1) < 1e-6);
  });

  it("gives a one-channel model the luma of an RGB image", () => {
    const g: InputSpec = { ...spec, channels: 1, mean: [0], std: [1] };
    const img = { width: 1, height: 1, format: "RGB" as const, data: Uint8Array.from([255, 255, 255]) };
    const out = new Float32Array(16);
    sampleTile(img, { x: 0, y: 0, width: 1, height: 1 }, g, out);
    assert.ok(out.every((v) => Math.abs(v - 1) < 1e-5));
  });
});

/** Bilinear sample of `img` at tile output (u, v), edges clamped: the definition sampleTile follows. */
function bilinear(img: { width: number; height: number; data: Uint8Array }, ch: number, c: number, rect: { x: number; y: number; width: number; height: number }, mw: number, mh: number, u: number, v: number): number {
  const at = (x: number, y: number) => img.data[(y * img.width + x) * ch + c];
  const gx = Math.min(Math.max(rect.x + ((u + 0.5) * rect.width) / mw - 0.5, 0), img.width - 1);
  const gy = Math.min(Math.max(rect.y + ((v + 0.5) * rect.height) / mh - 0.5, 0), img.height - 1);
  const x0 = Math.floor(gx), y0 = Math.floor(gy);
  const x1 = Math.min(x0 + 1, img.width - 1), y1 = Math.min(y0 + 1, img.height - 1);
  const fx = gx - x0, fy = gy - y0;
  const top = at(x0, y0) * (1 - fx) + at(x1, y0) * fx;
  const bottom = at(x0, y1) * (1 - fx) + at(x1, y1) * fx;
  return top * (1 - fy) + bottom * fy;
}

describe("sampleTile, other scales (resize tiling)", () => {
  // 640x480 -> 256 (2.5 x 1.875), upsampling, odd sizes, a rect past the edge, and a one-channel
  // model: the JS loop must give the clamped bilinear sample written out in the test.
  for (const [format, k, width, height, rect, mw, mh] of [
    ["RGB", 3, 64, 48, { x: 0, y: 0, width: 64, height: 48 }, 24, 24],
    ["RGB", 3, 37, 23, { x: 0, y: 0, width: 37, height: 23 }, 52, 40],
    ["RGB", 3, 50, 30, { x: 10, y: 4, width: 48, height: 36 }, 20, 16],
    ["GRAY8", 3, 61, 45, { x: 0, y: 0, width: 61, height: 45 }, 16, 16],
    ["GRAY8", 1, 33, 70, { x: 3, y: 5, width: 30, height: 60 }, 13, 29],
  ] as const) {
    it(`${format} ${width}x${height}, rect ${rect.width}x${rect.height} at (${rect.x}, ${rect.y}) -> ${k}x${mw}x${mh}`, () => {
      const ch = format === "RGB" ? 3 : 1;
      const data = new Uint8Array(width * height * ch);
      let s = 4242;
      for (let i = 0; i < data.length; i++) data[i] = (s = (s * 1103515245 + 12345) >>> 0) >>> 24;
      const img = { width, height, format, data };
      const spec: InputSpec = { name: "x", layout: "NCHW", channels: k, height: mh, width: mw, dynamic_batch: true, scale: 255, mean: [0.5, 0.4, 0.3].slice(0, k), std: [0.25, 0.2, 0.3].slice(0, k) };
      const out = new Float32Array(k * mw * mh).fill(NaN);
      sampleTile(img, rect, spec, out);
      for (let c = 0; c < k; c++) {
        for (let v = 0; v < mh; v++) {
          for (let u = 0; u < mw; u++) {
            const want = (bilinear(img, ch, ch === 3 ? c : 0, rect, mw, mh, u, v) / 255 - spec.mean[c]) / spec.std[c];
            const got = out[(c * mh + v) * mw + u];
            assert.ok(Math.abs(got - want) < 1e-5, `channel ${c} (${u}, ${v}): ${got} != ${want}`);
          }
        }
      }
    });
  }
});

describe("sampleTile, 2:1 tiles", () => {
  // Widths with rows of whole words and not, tiles on a word and off it, buffers at offsets 0, 4
  // and 1 inside a larger ArrayBuffer: the word path and the byte path must agree with bilinear.
  for (const format of ["RGB", "GRAY8"] as const) {
    for (const [width, x, offset, k] of [
      [64, 8, 0, 3],
      [64, 8, 4, 3],
      [64, 8, 1, 3],
      [64, 6, 0, 3],
      [62, 4, 0, 3],
      [64, 12, 0, 1],
    ]) {
      if (format === "RGB" && k === 1) continue;
      it(`${format} ${width} px wide, tile at x ${x}, buffer offset ${offset}, ${k}-channel model`, () => {
        const ch = format === "RGB" ? 3 : 1;
        const height = 40;
        const backing = new Uint8Array(offset + width * height * ch);
        let s = 12345;
        for (let i = 0; i < backing.length; i++) backing[i] = (s = (s * 1103515245 + 12345) >>> 0) >>> 24;
        const img = { width, height, format, data: backing.subarray(offset) };
        const spec: InputSpec = { name: "x", layout: "NCHW", channels: k as 1 | 3, height: 12, width: 16, dynamic_batch: true, scale: 255, mean: [0.5, 0.4, 0.3].slice(0, k), std: [0.25, 0.2, 0.3].slice(0, k) };
        const rect = { x, y: 6, width: 32, height: 24 };
        const out = new Float32Array(k * 12 * 16);
        sampleTile(img, rect, spec, out);
        for (let c = 0; c < k; c++) {
          for (let v = 0; v < 12; v++) {
            for (let u = 0; u < 16; u++) {
              const want = (bilinear(img, ch, ch === 3 ? c : 0, rect, 16, 12, u, v) / 255 - spec.mean[c]) / spec.std[c];
              const got = out[c * 192 + v * 16 + u];
              assert.ok(Math.abs(got - want) < 1e-5, `channel ${c} (${u}, ${v}): ${got} != ${want}`);
            }
          }
        }
      });
    }
  }

  // A ROI smaller than the tile (640x480 under 512 px tiles): the SIMD path pads the copy of
  // the frame with its edge pixels and must still give the clamped bilinear sample.
  for (const format of ["RGB", "GRAY8"] as const) {
    for (const [width, height, x, y] of [[40, 21, 0, 0], [64, 20, 32, 0], [23, 40, 0, 16]]) {
      it(`${format} ${width}x${height}, tile at (${x}, ${y}) reaching past the edge`, () => {
        const ch = format === "RGB" ? 3 : 1;
        const data = new Uint8Array(width * height * ch);
        let s = 777;
        for (let i = 0; i < data.length; i++) data[i] = (s = (s * 1103515245 + 12345) >>> 0) >>> 24;
        const img = { width, height, format, data };
        const spec: InputSpec = { name: "x", layout: "NCHW", channels: 3, height: 12, width: 16, dynamic_batch: true, scale: 255, mean: [0.5, 0.4, 0.3], std: [0.25, 0.2, 0.3] };
        const rect = { x, y, width: 32, height: 24 };
        const out = new Float32Array(3 * 12 * 16);
        sampleTile(img, rect, spec, out);
        for (let c = 0; c < 3; c++) {
          for (let v = 0; v < 12; v++) {
            for (let u = 0; u < 16; u++) {
              const want = (bilinear(img, ch, ch === 3 ? c : 0, rect, 16, 12, u, v) / 255 - spec.mean[c]) / spec.std[c];
              const got = out[c * 192 + v * 16 + u];
              assert.ok(Math.abs(got - want) < 1e-5, `channel ${c} (${u}, ${v}): ${got} != ${want}`);
            }
          }
        }
      });
    }
  }

  it("samples the new pixels of a pooled buffer refilled for the next frame (same array, new frame)", () => {
    // Capture hands frame after frame in the same pooled buffer; the SIMD path keeps a copy of
    // the last frame and must not take the refilled buffer for it.
    const width = 64, height = 48;
    const data = new Uint8Array(width * height * 3);
    const spec: InputSpec = { name: "x", layout: "NCHW", channels: 3, height: 12, width: 16, dynamic_batch: true, scale: 255, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] };
    const rect = { x: 8, y: 8, width: 32, height: 24 };
    const first = new Float32Array(3 * 12 * 16);
    const second = new Float32Array(3 * 12 * 16);
    data.fill(40);
    sampleTile({ width, height, format: "RGB", data }, rect, spec, first);
    data.fill(200);
    sampleTile({ width, height, format: "RGB", data }, rect, spec, second);
    const want = (v: number) => (v / 255 - 0.5) / 0.25;
    assert.ok(Math.abs(first[0] - want(40)) < 1e-5 && Math.abs(second[0] - want(200)) < 1e-5, `got ${first[0]}, ${second[0]}`);
  });

  it("starts tiles on multiples of 4 px, except the last, which stays flush", () => {
    for (const [length, tile, overlap] of [[1920, 512, 32], [1080, 512, 32], [1001, 256, 64], [700, 64, 8]]) {
      const s = axisStarts(length, tile, overlap);
      assert.equal(s.at(-1), length - tile);
      for (const v of s.slice(0, -1)) assert.equal(v % 4, 0, `${length}/${tile}/${overlap}: start ${v}`);
      for (let i = 1; i < s.length; i++) assert.ok(s[i - 1] + tile - s[i] >= overlap, `${length}/${tile}/${overlap}: overlap of tile ${i}`);
    }
  });
});
