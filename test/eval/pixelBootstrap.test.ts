import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { evaluate, type ImageResult } from "../../src/eval/metrics.js";
import { binEdges, binnedAuroc, countPixels, PixelPairs } from "../../src/eval/pixelBootstrap.js";
import { rocCurve, sortedScores } from "../../src/eval/rocCurve.js";

/** A seeded stream of uniform numbers (LCG), independent of the code under test. */
function lcg(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
}

/**
 * n images of side px: half good, half with a square defect; each image has its own offset
 * (some images are simply brighter: what makes pixel AUROC depend on which images are drawn).
 */
function images(n: number, seed: number, side = 24): ImageResult[] {
  const u = lcg(seed);
  return Array.from({ length: n }, (_, i) => {
    const bad = i % 2 === 1;
    const offset = 0.8 * (u() - 0.5);
    const map = new Float32Array(side * side).map(() => u() + offset);
    const mask = bad ? new Uint8Array(side * side) : null;
    if (mask) {
      const [x0, y0, s] = [Math.floor(u() * (side - 8)), Math.floor(u() * (side - 8)), 3 + Math.floor(u() * 5)];
      for (let y = y0; y < y0 + s; y++) for (let x = x0; x < x0 + s; x++) (mask[y * side + x] = 1), (map[y * side + x] += 0.3 + 0.6 * u());
    }
    return { type: bad ? "square" : "good", name: `i${i}`, path: "", score: Math.max(...map), map, defective: bad, mask, width: side, height: side };
  });
}

describe("pixel AUROC bootstrap", () => {
  it("binned AUROC is exact when every distinct score has its own bin, ties counting 1/2", () => {
    const u = lcg(4);
    const pos = Array.from({ length: 300 }, () => Math.round(u() * 30) / 10);
    const neg = Array.from({ length: 500 }, () => Math.round(u() * 20) / 10);
    const edges = Float64Array.from(new Set([...pos, ...neg])).sort();
    const count = (v: number[]) => {
      const c = new Float64Array(edges.length + 1);
      for (const x of v) c[edges.filter((e) => e <= x).length]++;
      return c;
    };
    const exact = rocCurve(sortedScores(pos, "pos"), sortedScores(neg, "neg")).auroc;
    assert.ok(Math.abs(binnedAuroc(count(neg), count(pos)) - exact) < 1e-12);
    assert.ok(Number.isNaN(binnedAuroc(count(neg), new Float64Array(edges.length + 1))));
  });

  it("the shared bins put the whole set's AUROC within 0.002 of the exact one", () => {
    const results = images(60, 7);
    const neg: number[] = [];
    const pos: number[] = [];
    for (const r of results) r.map.forEach((v, k) => (r.mask?.[k] ? pos : neg).push(v));
    const [sn, sp] = [sortedScores(neg, "neg"), sortedScores(pos, "pos")];
    const edges = binEdges([sn, sp]);
    const summed = results.map((r) => countPixels(r, edges)).reduce((a, c) => ({ neg: a.neg.map((v, b) => v + c.neg[b]), pos: a.pos.map((v, b) => v + c.pos[b]) }));
    assert.equal(summed.pos.reduce((a, b) => a + b), pos.length);
    const exact = rocCurve(sp, sn).auroc;
    assert.ok(Math.abs(binnedAuroc(summed.neg, summed.pos) - exact) < 0.002, `${binnedAuroc(summed.neg, summed.pos)} against ${exact}`);
  });

  it("evaluate() gives an interval that holds the estimate, repeats, and narrows with more images", () => {
    const thresholds = { image: 1, pixel: 1 };
    const small = evaluate(images(40, 1), thresholds, 0).metrics;
    const [lo, hi] = small.pixel_auroc_ci95;
    assert.ok(lo < small.pixel_auroc && small.pixel_auroc < hi, `${lo} < ${small.pixel_auroc} < ${hi}`);
    assert.deepEqual(small.per_type.square.pixel_auroc_ci95, [lo, hi], "one type: its set is the whole set");
    assert.deepEqual(evaluate(images(40, 1), thresholds, 0).metrics.pixel_auroc_ci95, [lo, hi]);
    const [lo4, hi4] = evaluate(images(400, 2), thresholds, 0).metrics.pixel_auroc_ci95;
    assert.ok(hi4 - lo4 < (hi - lo) / 2, `400 images: ${hi4 - lo4} against ${hi - lo} for 40`);
    const good = images(4, 3).filter((r) => r.mask === null);
    assert.deepEqual(evaluate(good, thresholds, 0).metrics.pixel_auroc_ci95, [NaN, NaN]);
    assert.deepEqual(new PixelPairs([], [], new Float64Array(0)).interval([], []), [NaN, NaN]);
  });
});
