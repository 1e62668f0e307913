import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { labelComponents } from "../../src/pipeline/labelComponents.js";
import { evaluate, type ImageResult } from "../../src/eval/metrics.js";
import { rocCurve, sortedScores } from "../../src/eval/rocCurve.js";

const roc = (pos: number[], neg: number[]) => rocCurve(sortedScores(pos, "pos"), sortedScores(neg, "neg"));

function img(type: string, name: string, score: number, map: number[], mask: number[] | null, width: number): ImageResult {
  return {
    type,
    name,
    path: `/nowhere/${type}/${name}.png`,
    score,
    map: Float32Array.from(map),
    defective: mask !== null,
    mask: mask === null ? null : Uint8Array.from(mask),
    width,
    height: map.length / width,
  };
}

const close = (a: number, b: number, eps = 1e-9) => assert.ok(Math.abs(a - b) < eps, `${a} != ${b}`);

describe("rocCurve", () => {
  it("gives 1 for a perfect ranking and 0 for an inverted one", () => {
    assert.equal(roc([2, 3], [0, 1]).auroc, 1);
    assert.equal(roc([0, 1], [2, 3]).auroc, 0);
  });

  it("counts a tied positive/negative pair as 1/2", () => {
    assert.equal(roc([0.5], [0.5]).auroc, 0.5);
    // pairs: 1>0.5, 1>0, 0.5=0.5 (1/2), 0.5>0 -> 3.5 / 4
    assert.equal(roc([1, 0.5], [0.5, 0]).auroc, 0.875);
    assert.equal(roc([1, 1, 1], [1, 1]).auroc, 0.5);
  });

  it("is NaN when a class is empty", () => {
    assert.ok(Number.isNaN(roc([], [1]).auroc));
    assert.ok(Number.isNaN(roc([1], []).auroc));
  });

  it("finds the best F1 over all thresholds", () => {
    // t=0.9: tp1 fp0 fn1 -> 2/3; t=0.6: 2/4; t=0.4: tp2 fp1 -> 4/5; t=0.1: 4/6
    const r = roc([0.9, 0.4], [0.6, 0.1]);
    close(r.f1_max, 0.8);
    close(r.f1_threshold, 0.4);
  });

  it("matches the pairwise Mann-Whitney count on tied random scores", () => {
    let s = 7;
    const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
    const pos = Array.from({ length: 300 }, () => Math.round(rnd() * 20) / 10);
    const neg = Array.from({ length: 400 }, () => Math.round(rnd() * 15) / 10);
    let wins = 0;
    for (const p of pos) for (const n of neg) wins += p > n ? 1 : p === n ? 0.5 : 0;
    close(roc(pos, neg).auroc, wins / (pos.length * neg.length));
  });

  it("returns a curve from (0,0) to (1,1)", () => {
    const c = roc([0.9, 0.4], [0.6, 0.1]).curve;
    assert.deepEqual([c.x[0], c.y[0]], [0, 0]);
    assert.deepEqual([c.x.at(-1), c.y.at(-1)], [1, 1]);
  });
});

describe("labelComponents", () => {
  it("joins diagonal neighbours (8-connectivity)", () => {
    const c = labelComponents(Uint8Array.from([1, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]), 4, 4);
    assert.equal(c.count, 3);
    assert.deepEqual(c.sizes, [2, 1, 1]);
    assert.equal(c.labels[0], c.labels[5]);
  });
});

describe("evaluate", () => {
  // 4x4 defective image: region A = (0,0)+(1,1) (diagonal: one region under 8-connectivity),
  // region B = (3,0); 13 normal pixels. Scores: A 0.9 and 0.5, B 0.7, one normal 0.8, rest 0.1.
  // Descending: t=0.9 PRO=(1/2+0)/2=0.25 FPR=0; t=0.8 FPR=1/13; t=0.7 PRO=0.75; t=0.5 PRO=1;
  // t=0.1 FPR=1. Area to 0.3 = 0.25/13 + (0.3-1/13)*1; AUPRO = 1 - 0.75/3.9.
  // (4-connectivity would give three regions and 1 - (2/3)/3.9.)
  const mask = [1, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  const map = [0.9, 0.8, 0.1, 0.7, 0.1, 0.5, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1];

  it("computes AUPRO of a 4x4 map by hand", () => {
    const e = evaluate([img("crack", "a", 1, map, mask, 4)], { image: 0.5, pixel: 0.5 }, 10);
    close(e.metrics.aupro, 1 - 0.75 / 3.9);
    assert.ok(Number.isNaN(e.metrics.image_auroc));
    assert.equal(e.metrics.ms_per_image, 10);
    // pixel AUROC: positives 0.9,0.7,0.5 vs negatives 0.8 + twelve 0.1 -> (13+12+12)/39
    close(e.metrics.pixel_auroc, 37 / 39);
    const pro = e.curves.pro;
    assert.equal(pro.x[0], 0);
    assert.equal(pro.y.at(-1), 1);
  });

  it("computes IoU on normal and anomalous images at the shipped pixel threshold", () => {
    const e = evaluate(
      [
        img("good", "g1", 0.1, [0.1, 0.1, 0.1, 0.1], null, 2),
        img("good", "g2", 0.2, [0.1, 0.6, 0.1, 0.1], null, 2),
        // truth 1100, prediction 1010 -> intersection 1, union 3
        img("crack", "c1", 0.9, [0.9, 0.1, 0.9, 0.1], [1, 1, 0, 0], 2),
        // prediction equals truth
        img("crack", "c2", 0.8, [0.9, 0.1, 0.1, 0.1], [1, 0, 0, 0], 2),
      ],
      { image: 0.5, pixel: 0.5 },
      1,
    );
    close(e.metrics.iou_normal, 0.5);
    close(e.metrics.iou_normal_pixel, (1 + 0.75) / 2);
    close(e.metrics.iou_anomalous, (1 / 3 + 1) / 2);
    assert.equal(e.metrics.per_type.crack.iou_normal, 0.5);
  });

  it("computes image metrics overall and per type", () => {
    const flat = [0, 0, 0, 0];
    const e = evaluate(
      [
        img("good", "g1", 0.1, flat, null, 2),
        img("good", "g2", 0.2, flat, null, 2),
        img("crack", "c", 0.3, flat, [1, 0, 0, 0], 2),
        img("fray", "f", 0.15, flat, [1, 0, 0, 0], 2),
      ],
      { image: 0.5, pixel: 0.5 },
      1,
    );
    // overall: 0.3 beats both goods, 0.15 beats one -> 3/4
    close(e.metrics.image_auroc, 0.75);
    assert.deepEqual(Object.keys(e.metrics.per_type), ["crack", "fray"]);
    close(e.metrics.per_type.crack.image_auroc, 1);
    close(e.metrics.per_type.fray.image_auroc, 0.5);
    assert.equal(e.metrics.per_type.crack.images, 3);
    assert.equal(e.metrics.images, 4);
    // all pixels 0: every pixel tied -> 0.5
    close(e.metrics.pixel_auroc, 0.5);
    // t=0.3: tp1 fp0 fn1 -> 2/3; t=0.2: tp1 fp1 -> 1/2; t=0.15: tp2 fp1 -> 4/5
    close(e.metrics.image_f1_max, 0.8);
  });

  it("gives NaN, not a crash, for an empty set, and rejects a map of the wrong size", () => {
    const e = evaluate([], { image: 0.5, pixel: 0.5 }, 0);
    assert.equal(e.metrics.images, 0);
    assert.ok(Number.isNaN(e.metrics.image_auroc) && Number.isNaN(e.metrics.aupro) && Number.isNaN(e.metrics.iou_normal));
    const bad = img("good", "g", 0, [0, 0, 0, 0], null, 2);
    assert.throws(() => evaluate([{ ...bad, width: 3 }], { image: 0.5, pixel: 0.5 }, 0), /good\/g: map has 4 values, image is 3x2/);
    assert.throws(() => evaluate([{ ...bad, score: NaN }], { image: 0.5, pixel: 0.5 }, 0), /image score NaN/);
  });

  it("agrees with a brute-force PRO on random tied maps", () => {
    let s = 3;
    const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
    const results: ImageResult[] = [];
    for (let n = 0; n < 6; n++) {
      const mask = Array.from({ length: 64 }, () => (rnd() < 0.25 ? 1 : 0));
      const m = mask.map((t) => Math.round((rnd() + t * 0.5) * 8) / 8);
      results.push(img(n < 3 ? "good" : "spot", `i${n}`, rnd(), m, n < 3 ? null : mask, 8));
    }
    const e = evaluate(results, { image: 0.5, pixel: 0.5 }, 1);
    close(e.metrics.aupro, bruteAupro(results), 1e-9);
  });
});

/** PRO by thresholding at every distinct value, independent of the sorted walk. */
function bruteAupro(results: readonly ImageResult[]): number {
  const regions: { idx: number[]; r: ImageResult }[] = [];
  let nNeg = 0;
  for (const r of results) {
    if (r.mask === null) {
      nNeg += r.map.length;
      continue;
    }
    const c = labelComponents(r.mask, r.width, r.height);
    for (let l = 1; l <= c.count; l++) regions.push({ idx: [...c.labels.keys()].filter((k) => c.labels[k] === l), r });
    nNeg += r.mask.filter((v) => v === 0).length;
  }
  const values = [...new Set(results.flatMap((r) => [...r.map]))].sort((a, b) => b - a);
  const pts: [number, number][] = [[0, 0]];
  for (const t of values) {
    let fp = 0;
    for (const r of results) r.map.forEach((v, k) => (fp += v >= t && (r.mask === null || r.mask[k] === 0) ? 1 : 0));
    const pro = regions.reduce((a, g) => a + g.idx.filter((k) => g.r.map[k] >= t).length / g.idx.length, 0) / regions.length;
    pts.push([fp / nNeg, pro]);
  }
  let area = 0;
  for (let i = 1; i < pts.length; i++) {
    const [x0, y0] = pts[i - 1];
    const [x1, y1] = pts[i];
    if (x1 <= 0.3) area += ((x1 - x0) * (y0 + y1)) / 2;
    else {
      area += ((0.3 - x0) * (y0 + y0 + ((y1 - y0) * (0.3 - x0)) / (x1 - x0))) / 2;
      break;
    }
  }
  return area / 0.3;
}
