import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, it } from "node:test";
import { halveBytes, halveWords, type Affine } from "../../src/pipeline/halve.js";
import { SimdHalver } from "../../src/pipeline/halveSimd.js";

/** Pseudo-random bytes, deterministic for a seed. */
function noise(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) out[i] = (s = (s * 1103515245 + 12345) >>> 0) >>> 24;
  return out;
}

function assertClose(got: Float32Array, want: Float32Array, what: string): void {
  assert.equal(got.length, want.length);
  for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i] - want[i]) < 1e-5, `${what}: value ${i}: ${got[i]} != ${want[i]}`);
}

const affine = (k: number): Affine => ({ a: [0.9, 1.1, 0.7].slice(0, k).map((v) => v / 4 / 64), b: [-2, -1.5, -1].slice(0, k) });

describe("SimdHalver", () => {
  const simd = SimdHalver.create();

  it("compiles on Node 20 (WebAssembly SIMD is on by default)", () => {
    assert.ok(simd, "SimdHalver.create() returned null");
  });

  it("is built from halveSimd.wat as committed", () => {
    const out = execFileSync(process.execPath, ["scripts/buildWasm.mjs", "--check"], { encoding: "utf8" });
    assert.match(out, /matches halveSimd\.wat/);
  });

  // The tile at the far corner too: the RGB kernel reads 8 bytes past a row, the last one included.
  for (const [format, k, W, H, mw, mh, x, y] of [
    ["RGB", 3, 96, 40, 16, 12, 8, 6],
    ["RGB", 3, 96, 40, 32, 20, 32, 0],
    ["RGB", 3, 70, 33, 12, 8, 46, 17],
    ["GRAY8", 1, 96, 40, 16, 12, 8, 6],
    ["GRAY8", 3, 96, 40, 16, 12, 64, 16],
    ["GRAY8", 3, 50, 31, 8, 8, 34, 15],
  ] as const) {
    it(`${format} ${W}x${H} to a ${k}-channel ${mw}x${mh} tile at (${x}, ${y}) equals halveBytes and halveWords`, () => {
      assert.ok(simd);
      const ch = format === "RGB" ? 3 : 1;
      const data = noise(W * H * ch, W * 31 + x);
      const rect = { x, y, width: 2 * mw, height: 2 * mh };
      const f = affine(k);
      const want = new Float32Array(k * mw * mh);
      halveBytes(data, W, ch, rect, mw, mh, k, f, want);
      const got = new Float32Array(k * mw * mh).fill(NaN);
      assert.ok(SimdHalver.fits(ch, k, mw));
      simd.halve(data, W, H, ch, rect, mw, mh, k, f, got);
      assertClose(got, want, "simd");
      const words = new Float32Array(k * mw * mh);
      if (halveWords(data, W, ch, rect, mw, mh, k, f, words)) assertClose(words, want, "words");
    });
  }

  it("copies a new frame in, also one of the same size, and reuses the copy for the frame's other tiles", () => {
    assert.ok(simd);
    const [W, H, mw, mh] = [64, 32, 8, 8];
    const f = affine(3);
    const frames = [noise(W * H * 3, 1), noise(W * H * 3, 2), noise(W * 2 * H * 3, 3)];
    for (const [i, data] of [frames[0], frames[0], frames[1], frames[0], frames[2], frames[1]].entries()) {
      const w = data.length / (H * 3);
      for (const x of [0, 16, w - 16]) {
        const rect = { x, y: i % 2 ? 16 : 0, width: 16, height: 16 };
        const want = new Float32Array(3 * mw * mh);
        halveBytes(data, w, 3, rect, mw, mh, 3, f, want);
        const got = new Float32Array(3 * mw * mh);
        simd.halve(data, w, H, 3, rect, mw, mh, 3, f, got);
        assertClose(got, want, `frame ${i}, x ${x}`);
      }
    }
  });

  // A ROI smaller than a tile (640x480 under 512 px tiles): the rect reaches past the image, and
  // the result must be the edge-clamped bilinear sample, written out here pixel by pixel.
  for (const [format, k, W, H, mw, mh, x, y] of [
    ["RGB", 3, 40, 21, 16, 16, 0, 0],
    ["RGB", 3, 64, 27, 16, 16, 32, 0],
    ["RGB", 3, 23, 40, 12, 8, 0, 24],
    ["GRAY8", 3, 30, 13, 16, 8, 0, 0],
    ["GRAY8", 1, 41, 50, 24, 8, 0, 40],
  ] as const) {
    it(`${format} ${W}x${H} to a ${k}-channel ${mw}x${mh} tile at (${x}, ${y}) past the edge repeats the edge pixels`, () => {
      assert.ok(simd);
      const ch = format === "RGB" ? 3 : 1;
      const data = noise(W * H * ch, W * 7 + H);
      const rect = { x, y, width: 2 * mw, height: 2 * mh };
      const f = affine(k);
      const want = new Float32Array(k * mw * mh);
      const px = (xx: number, yy: number, c: number) => data[(Math.min(yy, H - 1) * W + Math.min(xx, W - 1)) * ch + (ch === 3 ? c : 0)];
      for (let c = 0; c < k; c++) {
        for (let v = 0; v < mh; v++) {
          for (let u = 0; u < mw; u++) {
            const x0 = x + 2 * u, y0 = y + 2 * v;
            const sum = px(x0, y0, c) + px(x0 + 1, y0, c) + px(x0, y0 + 1, c) + px(x0 + 1, y0 + 1, c);
            want[(c * mh + v) * mw + u] = sum * f.a[c] + f.b[c];
          }
        }
      }
      const got = new Float32Array(k * mw * mh).fill(NaN);
      simd.halve(data, W, H, ch, rect, mw, mh, k, f, got);
      assertClose(got, want, "simd past the edge");
      // The same frame again with an 8x4 tile inside it (every image here holds 16x8 px): the
      // padded copy, of another row length, must not be mistaken for a plain one.
      const inside = { x: 0, y: 0, width: 16, height: 8 };
      const want2 = new Float32Array(k * 8 * 4);
      halveBytes(data, W, ch, inside, 8, 4, k, f, want2);
      const got2 = new Float32Array(k * 8 * 4).fill(NaN);
      simd.halve(data, W, H, ch, inside, 8, 4, k, f, got2);
      assertClose(got2, want2, "simd inside after past the edge");
    });
  }

  it("takes only the layouts its kernels handle", () => {
    assert.ok(SimdHalver.fits(3, 3, 256));
    assert.ok(SimdHalver.fits(1, 3, 256));
    assert.ok(SimdHalver.fits(1, 1, 8));
    assert.ok(!SimdHalver.fits(3, 1, 256), "RGB to one channel (luma) stays in JS");
    assert.ok(!SimdHalver.fits(3, 3, 254), "RGB needs 4 output columns a step");
    assert.ok(!SimdHalver.fits(1, 3, 252), "gray needs 8 output columns a step");
  });
});
