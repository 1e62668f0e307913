import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  aurocInterval,
  auproOf,
  catchAtBudget,
  pairedAurocDifference,
  pairedCatchDifference,
  pairedProDifference,
  proInterval,
  rankAuroc,
  regionProAreas,
  type ImagePro,
} from "../../src/eval/bootstrap.js";
import { evaluate, type ImageResult } from "../../src/eval/metrics.js";
import { packPositive } from "../../src/eval/proCurve.js";
import { rocCurve, sortedScores } from "../../src/eval/rocCurve.js";

/** A seeded stream of uniform numbers (LCG), independent of the code under test. */
function lcg(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
}

/** Normal deviates by Box-Muller from `u`. */
const normal = (u: () => number) => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());

describe("bootstrap intervals", () => {
  it("rankAuroc agrees with the exact ROC on tied scores", () => {
    const u = lcg(3);
    const pos = Array.from({ length: 120 }, () => Math.round(u() * 20) / 10);
    const neg = Array.from({ length: 90 }, () => Math.round(u() * 15) / 10);
    const exact = rocCurve(sortedScores(pos, "pos"), sortedScores(neg, "neg")).auroc;
    assert.ok(Math.abs(rankAuroc(pos, neg) - exact) < 1e-12);
    assert.ok(Number.isNaN(rankAuroc([], neg)));
  });

  it("image AUROC interval holds the estimate, repeats with its seed and narrows with more images", () => {
    const u = lcg(11);
    const sample = (n: number, shift: number) => Array.from({ length: n }, () => normal(u) + shift);
    const [pos, neg] = [sample(60, 1.2), sample(60, 0)];
    const [lo, hi] = aurocInterval(pos, neg);
    const est = rankAuroc(pos, neg);
    assert.ok(lo < est && est < hi, `${lo} < ${est} < ${hi}`);
    assert.deepEqual(aurocInterval(pos, neg), [lo, hi]);
    assert.notDeepEqual(aurocInterval(pos, neg, { seed: 1 }), [lo, hi]);
    const [lo4, hi4] = aurocInterval(sample(600, 1.2), sample(600, 0));
    assert.ok(hi4 - lo4 < (hi - lo) / 2, `600 images a side: ${hi4 - lo4} against ${hi - lo}`);
    assert.deepEqual(aurocInterval([], neg), [NaN, NaN]);
  });

  it("a model paired with itself differs by exactly 0; a shared hard-image effect cancels in the pairing", () => {
    const u = lcg(5);
    const hard = Array.from({ length: 200 }, () => normal(u)); // what both models see in each image
    const neg = hard.slice(0, 100);
    const pos = hard.slice(100).map((h) => h + 1);
    const a = { pos, neg };
    const same = pairedAurocDifference(a, a);
    assert.deepEqual([same.difference, same.interval], [0, [0, 0]]);
    assert.equal(same.share_not_better, 1);
    // b: the same images, a little worse on each defective one, plus small noise of its own
    const b = { pos: pos.map((p) => p - 0.3 + 0.05 * normal(u)), neg: neg.map((n) => n + 0.05 * normal(u)) };
    const d = pairedAurocDifference(a, b);
    assert.ok(d.difference > 0 && d.interval[0] > 0, `a is better and the pairing shows it: ${JSON.stringify(d)}`);
    assert.ok(d.share_not_better < 0.025);
    const [alo, ahi] = aurocInterval(a.pos, a.neg);
    assert.ok(d.interval[1] - d.interval[0] < ahi - alo, "paired interval narrower than one model's own");
    assert.throws(() => pairedAurocDifference(a, { pos, neg: neg.slice(1) }), /differ in size/);
  });

  it("per-region PRO areas add up to evaluate()'s exact AUPRO, and their interval holds it", () => {
    const u = lcg(8);
    const results: ImageResult[] = [];
    const W = 20;
    for (let i = 0; i < 30; i++) {
      const bad = i >= 10;
      const mask = new Uint8Array(W * W);
      const map = new Float32Array(W * W);
      if (bad) for (let y = 3; y < 3 + (i % 5) + 2; y++) for (let x = 4; x < 4 + (i % 7) + 2; x++) mask[y * W + x] = 1;
      if (bad && i % 3 === 0) for (let y = 14; y < 17; y++) for (let x = 12; x < 15; x++) mask[y * W + x] = 1; // a second region
      for (let k = 0; k < map.length; k++) map[k] = normal(u) + (mask[k] ? 1.5 * u() : 0);
      results.push({ type: bad ? "crack" : "good", name: `i${i}`, path: "", score: Math.max(...map), map, defective: bad, mask: bad ? mask : null, width: W, height: W });
    }
    const e = evaluate(results, { image: 1, pixel: 1 }, 0);
    const parts = [...e.image_pro.values()];
    assert.equal(parts.length, 20);
    assert.equal(parts.reduce((n, p) => n + p.regions, 0), 26); // 20 regions, and 6 images (i = 12, 15, ... 27) with a second
    assert.ok(Math.abs(auproOf(parts) - e.metrics.aupro) < 0.01, `grid ${auproOf(parts)} exact ${e.metrics.aupro}`);
    const [lo, hi] = e.metrics.aupro_ci95;
    assert.ok(lo < e.metrics.aupro && e.metrics.aupro < hi, `${lo} < ${e.metrics.aupro} < ${hi}`);
    assert.ok(hi - lo < 0.5);
  });

  it("regionProAreas gives 1 to a region above every normal pixel and 0 to one below them all", () => {
    // regions 0 and 1, one pixel each
    const pos = Float64Array.from([packPositive(-10, 1), packPositive(10, 0)]);
    const neg = Float32Array.from(Array.from({ length: 100 }, (_, k) => k / 100));
    const a = regionProAreas(pos, neg, [1, 1]);
    assert.ok(Math.abs(a.get(0)! - 1) < 0.01, `high region ${a.get(0)}`);
    assert.equal(a.get(1), 0);
  });

  it("paired AUPRO difference of a set with itself is 0; of a better set, positive", () => {
    const u = lcg(2);
    const a: ImagePro[] = Array.from({ length: 40 }, () => ({ area: 0.5 + 0.4 * u(), regions: 1 }));
    const b = a.map((p) => ({ area: p.area - 0.05, regions: 1 }));
    assert.deepEqual(pairedProDifference(a, a).interval, [0, 0]);
    const d = pairedProDifference(a, b);
    assert.ok(Math.abs(d.difference - 0.05) < 1e-12 && d.interval[0] > 0.049);
    assert.deepEqual(proInterval([]), [NaN, NaN]);
  });

  it("defects caught at a good-fail budget: counted by hand; a model paired with itself differs by 0, one better in the tail is found better", () => {
    const neg = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];
    // budget 0: threshold 1.0001, one of five over it; 10 %: 0.9001, two; 20 %: 0.8001, three.
    const pos = [0.85, 0.95, 1.2, 0.05, 0.65];
    assert.deepEqual([0, 0.1, 0.2].map((b) => catchAtBudget(pos, neg, b)), [0.2, 0.4, 0.6]);
    assert.ok(Number.isNaN(catchAtBudget(pos, [], 0)) && Number.isNaN(catchAtBudget([], neg, 0)));
    const u = lcg(11);
    const good = Array.from({ length: 300 }, () => normal(u));
    const bad = Array.from({ length: 200 }, () => normal(u) + 1);
    const self = pairedCatchDifference({ pos: bad, neg: good }, { pos: bad, neg: good }, 0.02, { resamples: 300 });
    assert.deepEqual([self.difference, self.interval], [0, [0, 0]]);
    // The same images, every defect scored 1.5 higher: far more are caught at 2 % good failed.
    const better = pairedCatchDifference({ pos: bad.map((v) => v + 1.5), neg: good }, { pos: bad, neg: good }, 0.02, { resamples: 300 });
    assert.ok(better.difference > 0.3 && better.interval[0] > 0 && better.share_not_better === 0, JSON.stringify(better));
  });
});
