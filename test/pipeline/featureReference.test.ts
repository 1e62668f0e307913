import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { asInspectImage } from "../../src/commands/evalCommand.js";
import { defaultModelDir, packageRoot } from "../../src/config/load.js";
import { loadImage } from "../../src/eval/loadImage.js";
import { greedyCoreset } from "../../src/pipeline/featureBank.js";
import { InferenceEngine } from "../../src/pipeline/inferenceEngine.js";
import { inspectImage, type InspectImage } from "../../src/pipeline/inspect.js";
import { buildReference, type FeatureReference, type Reference, referenceWarnings } from "../../src/pipeline/reference.js";
import { ReferenceStore } from "../../src/pipeline/referenceStore.js";
import { createLogger } from "../../src/service/logger.js";

// The feature reference on the real model and onnxruntime-node: a memory bank of the student's
// patch features from good tiles, searched in the inference worker with models/nn-distance.onnx.
const log = createLogger("error", new Writable({ write(_c, _e, cb) { cb(); } }));
const open = (dir: string) => InferenceEngine.open({ dir, providers: [{ kind: "cpu" }], workers: 1, threads: 1 }, log);
const demo = (name: string) => resolve("demo/images", name);
const opts = { tiling: { mode: "resize" as const }, batchMax: 8 };

async function image(name: string): Promise<InspectImage> {
  return asInspectImage(await loadImage(demo(name)));
}

/** `img` (GRAY8) with the centre square, a third of its short side, replaced by `fill(x, y)`. */
function paste(img: InspectImage, fill: (x: number, y: number) => number) {
  const data = Uint8Array.from(img.data);
  const side = Math.round(Math.min(img.width, img.height) / 3);
  const x0 = (img.width - side) >> 1, y0 = (img.height - side) >> 1;
  for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) data[(y0 + y) * img.width + x0 + x] = fill(x, y);
  return { image: { ...img, data }, square: { x0, y0, side } };
}

describe("feature reference (memory bank) on the real model", { timeout: 120_000 }, () => {
  let engine: InferenceEngine;
  let good: InspectImage[];
  let ref: Reference;
  before(async () => {
    engine = await open(defaultModelDir);
    good = await Promise.all(["001_good_exp1_num_114376.jpg", "003_good_exp1_num_177906.jpg", "005_good_exp1_num_262642.jpg"].map(image));
    ref = await buildReference(engine, good.slice(0, 2), opts);
  });
  after(() => engine?.close());

  it("builds a calibrated bank of the model's features from the good images", () => {
    assert.equal(ref.kind, "features");
    const f = ref as FeatureReference;
    assert.equal(f.shots, 2);
    assert.equal(f.bank.features.length, f.bank.count * f.bank.dim);
    assert.ok(f.bank.count > 100 && f.bank.count <= 2048, `bank of ${f.bank.count}`);
    assert.ok(f.bank.calibration.scale > 0 && Number.isFinite(f.bank.calibration.offset));
    assert.deepEqual(f.model, { name: engine.manifest.name, version: engine.manifest.version });
  });

  it("leaves a reference image's own map as the model made it: its patches are in the bank", async () => {
    const own = await inspectImage(engine, good[0], { ...opts, reference: ref });
    const plain = await inspectImage(engine, good[0], opts);
    // The distances of its own patches are ~0, below the bank's median: they can only lift the
    // lowest, far-below-median values of the model's map (max fusion), never what counts.
    let diff = 0;
    for (let i = 0; i < own.map.data.length; i++) if (plain.map.data[i] > 0) diff = Math.max(diff, Math.abs(own.map.data[i] - plain.map.data[i]));
    assert.ok(diff < 1e-4, `max difference ${diff} where the model's map is above its median`);
    assert.equal(own.score, plain.score);
  });

  it("raises the map where a texture the good parts never showed is pasted, and only there", async () => {
    // Another camera's tile pasted in: the model alone may or may not flag it; the bank's distance
    // does. The bank's calibration is sharpened 20x so its part of the fused map dominates and the
    // test sees the search itself (which bank, which patches, where). The maps are compared region
    // by region, not by their maxima: a good image's own border can be as far from a two-image bank
    // as the paste (with magtile-student 0.5.0, this image's bottom edge is).
    const f = ref as FeatureReference;
    const sharp: FeatureReference = { ...f, bank: { ...f.bank, calibration: { ...f.bank.calibration, scale: f.bank.calibration.scale / 20 } } };
    const other = good[2];
    const { image: pasted, square } = paste(other, (x, y) => 255 - good[1].data[(y % good[1].height) * good[1].width + (x % good[1].width)]);
    const plain = await inspectImage(engine, pasted, opts);
    const d = await inspectImage(engine, pasted, { ...opts, reference: sharp });
    const clean = await inspectImage(engine, other, { ...opts, reference: sharp });
    assert.ok(d.score > plain.score + 1, `pasted: ${d.score} with the reference, ${plain.score} without`);
    const near = other.width / 16, far = other.width / 8;
    let inPasted = -Infinity, inClean = -Infinity, outDiff = 0;
    const m = d.map;
    for (let i = 0; i < m.data.length; i++) {
      const px = ((i % m.width) + 0.5) * m.step, py = (Math.floor(i / m.width) + 0.5) * m.step;
      const dist = Math.max(square.x0 - px, px - square.x0 - square.side, square.y0 - py, py - square.y0 - square.side);
      if (dist < near) {
        inPasted = Math.max(inPasted, m.data[i]);
        inClean = Math.max(inClean, clean.map.data[i]);
      } else if (dist > far) outDiff = Math.max(outDiff, Math.abs(m.data[i] - clean.map.data[i]));
    }
    assert.ok(inPasted > inClean + 3, `over the square: ${inPasted} pasted, ${inClean} the same part without the paste`);
    assert.ok(outDiff < 2, `away from the square the map moved by up to ${outDiff}`);
  });

  it("scores a good image it was not built from lower than one with a foreign texture pasted in", async () => {
    const d = await inspectImage(engine, good[2], { ...opts, reference: ref });
    const defect = await inspectImage(engine, paste(good[2], (x, y) => (y % 6 < 3 ? 255 : 0)).image, { ...opts, reference: ref });
    assert.ok(d.score < defect.score, `good ${d.score}, defect ${defect.score}`);
  });

  it("survives the state directory (atomic file) bit for bit, and is used again after loading", async () => {
    const store = new ReferenceStore(mkdtempSync(join(tmpdir(), "lw-ref-")));
    store.save("cam", ref);
    const back = store.load("cam") as FeatureReference;
    const f = ref as FeatureReference;
    assert.equal(back.kind, "features");
    assert.deepEqual(back.bank.calibration, f.bank.calibration);
    assert.deepEqual(Array.from(back.bank.features.subarray(0, 64)), Array.from(f.bank.features.subarray(0, 64)));
    assert.equal(back.bank.features.length, f.bank.features.length);
    const a = await inspectImage(engine, good[2], { ...opts, reference: ref });
    const b = await inspectImage(engine, good[2], { ...opts, reference: back });
    assert.equal(a.score, b.score);
  });

  it("builds from a single image (its halves calibrate each other)", async () => {
    const one = (await buildReference(engine, good.slice(0, 1), opts)) as FeatureReference;
    assert.equal(one.kind, "features");
    assert.equal(one.shots, 1);
    assert.ok(one.bank.calibration.scale > 0);
    // Measured risky (README, few-shot table): the person enrolling is told, and asked for two or more.
    assert.match(referenceWarnings(one).join("\n"), /one good image .*enrol at least 2/);
    assert.deepEqual(referenceWarnings(ref), []);
  });

  it("searches the bank in the worker: a tile costs a bounded time", async () => {
    const t0 = performance.now();
    for (let i = 0; i < 5; i++) await inspectImage(engine, good[2], { ...opts, reference: ref });
    const ms = (performance.now() - t0) / 5;
    assert.ok(ms < 500, `${ms.toFixed(0)} ms per tile with the reference`);
  });
});

describe("a model without a features output", { timeout: 120_000 }, () => {
  it("gets a map-statistics reference, as before", async () => {
    const engine = await open(join(packageRoot, "models", "magtile-teacher"));
    try {
      assert.equal(engine.manifest.outputs.features, undefined);
      const ref = await buildReference(engine, [await image("001_good_exp1_num_114376.jpg")], opts);
      assert.equal(ref.kind, "map-stats");
    } finally {
      await engine.close();
    }
  });
});

describe("greedyCoreset", () => {
  it("keeps every row when there are few, and picks spread-out rows when thinning", () => {
    const rows = Float32Array.from([0, 0, 0.1, 0, 10, 10, 10.1, 10, 0, 0.2]);
    assert.deepEqual(Array.from(greedyCoreset(rows, 5, 2, 8)), [0, 1, 2, 3, 4]);
    const two = Array.from(greedyCoreset(rows, 5, 2, 2));
    assert.equal(two[0], 0);
    assert.ok(two[1] === 2 || two[1] === 3, `picked ${two}`);
  });
});
