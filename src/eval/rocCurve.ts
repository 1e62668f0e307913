/**
 * Exact ROC analysis of two sorted score sets. Sorting once (native typed-array sort) and
 * walking both arrays from the top keeps tens of millions of pixels to a few seconds, with no
 * histogram and so no approximation: every distinct score is a threshold.
 */

/** A curve for plotting: parallel arrays, x ascending. */
export interface Curve {
  /** False positive rate, 0..1. */
  x: number[];
  /** True positive rate (ROC) or per-region overlap (PRO), 0..1. */
  y: number[];
}

/** ROC summary of one positive/negative split. */
export interface RocResult {
  /** Area under the ROC curve, 0..1; a tied positive/negative pair counts 1/2. NaN when a class is empty. */
  auroc: number;
  /** Best F1 over all thresholds (score >= t is positive), 0..1. NaN when there is no positive. */
  f1_max: number;
  /** The threshold that reaches f1_max, in score units. */
  f1_threshold: number;
  /** The ROC curve, thinned for plotting (see CurveBuilder). */
  curve: Curve;
}

/**
 * Sort scores ascending into a new Float64Array (image scores keep full precision).
 * Throws on NaN, which has no rank.
 * @param what named in the error
 */
export function sortedScores(values: ArrayLike<number>, what: string): Float64Array {
  const out = Float64Array.from(values);
  out.sort();
  if (out.length > 0 && Number.isNaN(out[out.length - 1])) throw new RangeError(`${what}: NaN score`);
  return out;
}

/** Merge two ascending arrays into one ascending array of the same kind. */
export function mergeSorted<T extends Float32Array | Float64Array>(a: T, b: T): T {
  const out = new (a.constructor as { new (n: number): T })(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length && j < b.length) out[k++] = a[i] <= b[j] ? a[i++] : b[j++];
  while (i < a.length) out[k++] = a[i++];
  while (j < b.length) out[k++] = b[j++];
  return out;
}

/** Collects a curve point by point, thinned as it goes (see CurveBuilder.push). */
export class CurveBuilder {
  private readonly out: Curve = { x: [], y: [] };
  private pendingX = NaN;
  private pendingY = NaN;
  /** @param steps resolution: a point is kept when it moved 1/steps from the last kept one on either axis */
  constructor(private readonly steps = 1000) {}

  /** Offer the next point (x non-decreasing). The first and the last offered points are always kept. */
  push(x: number, y: number): void {
    const n = this.out.x.length;
    const d = 1 / this.steps;
    if (n === 0 || x - this.out.x[n - 1] >= d || Math.abs(y - this.out.y[n - 1]) >= d) {
      this.out.x.push(x);
      this.out.y.push(y);
      this.pendingX = NaN;
    } else {
      this.pendingX = x;
      this.pendingY = y;
    }
  }

  /** The thinned curve, ending with the last point offered. */
  done(): Curve {
    if (!Number.isNaN(this.pendingX)) {
      this.out.x.push(this.pendingX);
      this.out.y.push(this.pendingY);
      this.pendingX = NaN;
    }
    return this.out;
  }
}

/**
 * ROC curve, AUROC and F1-max of positive and negative scores.
 * AUROC is the trapezoid area under the exact curve, which equals the Mann-Whitney statistic
 * P(pos > neg) + P(pos = neg) / 2.
 * @param pos positive-class scores, sorted ascending (see sortedScores)
 * @param neg negative-class scores, sorted ascending
 */
export function rocCurve(pos: Float32Array | Float64Array, neg: Float32Array | Float64Array): RocResult {
  const nPos = pos.length;
  const nNeg = neg.length;
  const curve = new CurveBuilder();
  curve.push(0, 0);
  let i = nPos - 1;
  let j = nNeg - 1;
  let tp = 0;
  let fp = 0;
  let area = 0; // in units of (negatives x positives)
  let f1_max = nPos > 0 ? 0 : NaN;
  let f1_threshold = Infinity;
  while (i >= 0 || j >= 0) {
    const v = i < 0 ? neg[j] : j < 0 ? pos[i] : Math.max(pos[i], neg[j]);
    const tp0 = tp;
    const fp0 = fp;
    while (i >= 0 && pos[i] === v) {
      tp++;
      i--;
    }
    while (j >= 0 && neg[j] === v) {
      fp++;
      j--;
    }
    area += ((fp - fp0) * (tp + tp0)) / 2;
    if (nPos > 0) {
      const f1 = (2 * tp) / (2 * tp + fp + (nPos - tp));
      if (f1 > f1_max) {
        f1_max = f1;
        f1_threshold = v;
      }
    }
    curve.push(nNeg > 0 ? fp / nNeg : 0, nPos > 0 ? tp / nPos : 0);
  }
  const auroc = nPos > 0 && nNeg > 0 ? area / (nPos * nNeg) : NaN;
  return { auroc, f1_max, f1_threshold, curve: curve.done() };
}
