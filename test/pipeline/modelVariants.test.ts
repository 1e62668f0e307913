import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import sharp from "sharp";
import { defaultModelDir } from "../../src/config/load.js";
import { InferenceEngine } from "../../src/pipeline/inferenceEngine.js";
import { createLogger } from "../../src/service/logger.js";
import type { Tile } from "../../src/types.js";

// The INT8 and FP16 variants that training/quantize.py exports beside the default model must
// load through the daemon's engine unchanged and give float32's maps within the tolerances below.
const log = createLogger("error", new Writable({ write(_c, _e, cb) { cb(); } }));
const open = (dir: string) => InferenceEngine.open({ dir, providers: [{ kind: "cpu" }], workers: 1, threads: 1 }, log);
const demo = resolve("demo/images");
/**
 * Tolerances on the raw maps of the 16 demo images (whole image resized to the input),
 * differences in float32's calibrated units (its threshold is 1.26), r per image. Measured with
 * the shipped variants: int8 max 0.23, mean 0.026, lowest r 0.970; fp16 max 0.004, mean 0.0008,
 * r 0.99998. An int8 export with full 8-bit weights (they saturate on AVX2 CPUs) fails it: max
 * 1.13, mean 0.10, r 0.45.
 */
const tolerance = {
  int8: { max: 0.4, mean: 0.05, r: 0.95 },
  fp16: { max: 0.02, mean: 0.002, r: 0.9999 },
};

/** Model inputs: each demo image resized to the input and normalised as the manifest says. */
async function demoTiles(engine: InferenceEngine): Promise<Tile[]> {
  const { width, height, scale, mean, std } = engine.manifest.input;
  const tiles: Tile[] = [];
  for (const f of readdirSync(demo).filter((n) => n.endsWith(".jpg")).sort()) {
    const rgb = await sharp(join(demo, f)).removeAlpha().toColourspace("srgb").resize(width, height, { fit: "fill" }).raw().toBuffer();
    const input = new Float32Array(3 * width * height);
    for (let c = 0; c < 3; c++)
      for (let i = 0; i < width * height; i++) input[c * width * height + i] = (rgb[i * 3 + c] / scale - mean[c]) / std[c];
    tiles.push({ frame_key: f, index: 0, count: 1, rect: { x: 0, y: 0, width, height }, input });
  }
  return tiles;
}

/** Raw (uncalibrated) maps, one per tile. */
async function rawMaps(engine: InferenceEngine, tiles: Tile[]): Promise<Float32Array[]> {
  const { offset, scale } = engine.manifest.calibration;
  const out: Float32Array[] = [];
  for (let i = 0; i < tiles.length; i += 8) out.push(...(await engine.run(tiles.slice(i, i + 8))).maps.map((m) => m.map.map((v) => v * scale + offset)));
  return out;
}

function pearson(a: Float32Array, b: Float32Array): number {
  let ma = 0, mb = 0;
  for (let i = 0; i < a.length; i++) { ma += a[i]; mb += b[i]; }
  ma /= a.length;
  mb /= b.length;
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] - ma, y = b[i] - mb;
    ab += x * y; aa += x * x; bb += y * y;
  }
  return ab / Math.sqrt(aa * bb);
}

describe("INT8 and FP16 variants of the default model", { timeout: 120_000 }, () => {
  let fp32: InferenceEngine;
  let tiles: Tile[];
  let ref: Float32Array[];
  before(async () => {
    fp32 = await open(defaultModelDir);
    tiles = await demoTiles(fp32);
    ref = await rawMaps(fp32, tiles);
  });
  after(() => fp32?.close());

  for (const kind of ["int8", "fp16"] as const) {
    it(`${kind}: loads through the engine and its maps agree with float32 on the demo images`, async (t) => {
      const engine = await open(`${defaultModelDir}-${kind}`);
      try {
        assert.equal(engine.manifest.name, fp32.manifest.name);
        assert.equal(engine.manifest.version, `${fp32.manifest.version}+${kind}`);
        const maps = await rawMaps(engine, tiles);
        const s = fp32.manifest.calibration.scale;
        let max = 0, sum = 0, n = 0, minR = 1;
        maps.forEach((b, k) => {
          const a = ref[k];
          assert.equal(b.length, a.length);
          for (let i = 0; i < a.length; i++) {
            const d = Math.abs(a[i] - b[i]) / s;
            max = Math.max(max, d);
            sum += d;
          }
          n += a.length;
          minR = Math.min(minR, pearson(a, b));
        });
        const seen = `max ${max.toFixed(4)}, mean ${(sum / n).toFixed(5)}, lowest per-image Pearson r ${minR.toFixed(5)}`;
        t.diagnostic(seen);
        assert.ok(max <= tolerance[kind].max && sum / n <= tolerance[kind].mean && minR >= tolerance[kind].r, `${seen}; tolerance ${JSON.stringify(tolerance[kind])}`);
      } finally {
        await engine.close();
      }
    });
  }
});
