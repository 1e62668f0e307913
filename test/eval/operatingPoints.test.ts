import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ImageResult } from "../../src/eval/metrics.js";
import { evaluate } from "../../src/eval/metrics.js";
import { operatingPoints, rate, thresholdAbove } from "../../src/eval/operatingPoints.js";
import { curvesSvg } from "../../src/eval/curvesPlot.js";
import { reportMarkdown } from "../../src/eval/report.js";

const close = (a: number, b: number, eps = 1e-4) => assert.ok(Math.abs(a - b) < eps, `${a} != ${b}`);

/** A 1x1 image result with an image score only. */
function scored(type: string, score: number, i: number): ImageResult {
  return { type, name: `${type}${i}`, path: "", score, map: Float32Array.of(0), defective: type !== "good", mask: null, width: 1, height: 1 };
}

// Ten good parts 0.1 .. 1.0; five defective ones of two types.
const goodScores = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];
const results = [
  ...goodScores.map((s, i) => scored("good", s, i)),
  ...[0.85, 0.95, 1.2].map((s, i) => scored("a", s, i)),
  ...[0.05, 0.65].map((s, i) => scored("b", s, i)),
];

describe("operating points", () => {
  it("puts each budget's threshold just above the (m + 1)-th highest good score, counted by hand", () => {
    const op = operatingPoints(results, 0.75, [0, 0.05, 0.1, 0.2]);
    assert.deepEqual(
      op.budgets.map((p) => [p.good_fail_budget, p.threshold, p.good_failed.count, p.defects_caught.count, p.per_type_caught.a.count, p.per_type_caught.b.count]),
      [
        [0, 1.0001, 0, 1, 1, 0],
        [0.05, 1.0001, 0, 1, 1, 0], // half a good part is no part: the same as 0
        [0.1, 0.9001, 1, 2, 2, 0],
        [0.2, 0.8001, 2, 3, 3, 0],
      ],
    );
    assert.deepEqual(op.budgets.map((p) => p.good_fail_expected_new), [1 / 11, 1 / 11, 2 / 11, 3 / 11]);
    assert.equal(op.budgets[2].defects_caught.of, 5);
    assert.equal(op.budgets[2].defects_caught.rate, 0.4);
    // The shipped threshold is counted as it is, with no expectation: it was not picked here.
    assert.deepEqual([op.shipped.good_fail_budget, op.shipped.threshold, op.shipped.good_failed.count, op.shipped.defects_caught.count, op.shipped.good_fail_expected_new], [null, 0.75, 3, 3, null]);
  });

  it("never fails more good parts than the budget when good scores tie at the cut", () => {
    const tied = [0.5, 0.5, 0.5, 0.2].map((s, i) => scored("good", s, i)).concat([scored("a", 0.6, 0)]);
    const [p] = operatingPoints(tied, 1, [0.25]).budgets;
    assert.equal(p.threshold, 0.5001);
    assert.equal(p.good_failed.count, 0);
    assert.equal(p.defects_caught.count, 1);
  });

  it("gives no budget row without good images, and refuses a budget outside [0, 1)", () => {
    const defectsOnly = [scored("a", 1, 0)];
    assert.deepEqual(operatingPoints(defectsOnly, 0.5).budgets, []);
    assert.ok(Number.isNaN(operatingPoints(defectsOnly, 0.5).shipped.good_failed.rate));
    assert.throws(() => operatingPoints(results, 0.5, [1]), RangeError);
    assert.throws(() => operatingPoints(results, 0.5, [-0.01]), RangeError);
  });

  it("rounds thresholds up to four decimals, strictly above the score", () => {
    assert.equal(thresholdAbove(1.3778), 1.3779);
    assert.equal(thresholdAbove(1.37781), 1.3779);
    assert.equal(thresholdAbove(2), 2.0001);
    assert.equal(thresholdAbove(-0.00004), 0);
    assert.equal(thresholdAbove(-1.23456), -1.2345);
  });

  it("gives Wilson score intervals as published (0/10, 5/10, 1/100)", () => {
    const z = rate(0, 10);
    assert.equal(z.ci95[0], 0);
    close(z.ci95[1], 0.2775);
    close(rate(5, 10).ci95[0], 0.2366);
    close(rate(5, 10).ci95[1], 0.7634);
    close(rate(1, 100).ci95[0], 0.0018);
    close(rate(1, 100).ci95[1], 0.0545);
    assert.ok(Number.isNaN(rate(0, 0).rate));
  });

  it("is part of every evaluation and of report.md", () => {
    const e = evaluate(results, { image: 0.75, pixel: 0.75 }, 1);
    assert.equal(e.metrics.operating_points.budgets.length, 6);
    assert.equal(e.metrics.operating_points.shipped.defects_caught.count, 3);
    const md = reportMarkdown(e, { model: "m", dataset: "d", shots: 0, seed: 0, thresholds: { image: 0.75, pixel: 0.75 } });
    assert.match(md, /## Choosing a camera's threshold/);
    assert.match(md, /\| \(shipped threshold\) \| 0\.75 \| 3\/10 \(30\.0 %\) \|  \| 3\/5 \(60\.0 %\) \|/);
    // curves.png marks the shipped threshold (a square) and each distinct budget threshold (a dot) on the image ROC.
    const svg = curvesSvg(e.curves, e.metrics, "caption");
    assert.equal((svg.match(/<circle /g) ?? []).length, new Set(e.metrics.operating_points.budgets.map((p) => p.threshold)).size);
    assert.match(svg, /<rect x="[\d.]+" y="[\d.]+" width="8" height="8" fill="#1f618d"\/>/);
    assert.match(svg, />shipped</);
    assert.match(md, /\| 10 % \| 0\.9001 \| 1\/10 \(10\.0 %\) \| 18\.2 % \| 2\/5 \(40\.0 %\) \| .* \| a 2\/3, b 0\/2 \|/);
  });
});
