/**
 * Per-region overlap (PRO) curve and AUPRO, as the MVTec AD evaluation defines them
 * (Bergmann et al., "The MVTec Anomaly Detection Dataset", IJCV 2021, section 5.2):
 * at each threshold t, FPR = share of all truth-normal pixels (of good and defective images)
 * with score >= t, and PRO = mean over every connected truth region (8-connectivity, pooled
 * over all images) of the share of its pixels with score >= t. AUPRO is the area under PRO
 * over FPR from 0 to 0.3 (trapezoids, the last one cut at 0.3 by linear interpolation),
 * divided by 0.3. Every distinct score is a threshold, so the curve is exact (the MVTec AD
 * reference script, pro_curve_util.py, samples 5000 thresholds at quantiles of the normal
 * scores instead; its curve lies on ours).
 */
import { Curve, CurveBuilder } from "./rocCurve.js";

/** The FPR at which AUPRO stops integrating. */
export const PRO_FPR_LIMIT = 0.3;

/** Region ids take the low 21 bits of a packed positive; 32 bits of score key sit above. */
const ID_SPAN = 2 ** 21;

/** Most regions one evaluation can hold (2^21). */
export const MAX_REGIONS = ID_SPAN;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * Map a float32 score to a uint32 with the same order (sign-flip trick); -0 and +0 map alike.
 * Throws on NaN.
 */
export function scoreKey(v: number): number {
  if (Number.isNaN(v)) throw new RangeError("NaN score");
  f32[0] = v === 0 ? 0 : v;
  const u = u32[0];
  return (u & 0x80000000) !== 0 ? ~u >>> 0 : (u | 0x80000000) >>> 0;
}

/**
 * Pack a defect pixel's score with the id of its truth region into one float64 (exact:
 * 32 + 21 bits < 53), so a native Float64Array sort orders pixels by score.
 * @param region global region id, 0..MAX_REGIONS-1
 */
export function packPositive(score: number, region: number): number {
  return scoreKey(score) * ID_SPAN + region;
}

/** The score key (scoreKey) and region id of a packed defect pixel: packPositive undone. */
export function unpackPositive(packed: number): [key: number, region: number] {
  const key = Math.floor(packed / ID_SPAN);
  return [key, packed - key * ID_SPAN];
}

/** PRO analysis of one set of images. */
export interface ProResult {
  /** Normalised area under the PRO curve up to FPR 0.3, 0..1. NaN without regions or normal pixels. */
  aupro: number;
  /** The PRO curve (x = FPR, y = PRO), thinned for plotting, over the whole FPR range. */
  curve: Curve;
}

/**
 * PRO curve and AUPRO.
 * @param pos packed defect pixels (packPositive), sorted ascending
 * @param neg scores of truth-normal pixels, sorted ascending
 * @param regionSize pixels in each region, indexed by the global region id
 * @param regions number of distinct regions that occur in `pos`
 */
export function proCurve(pos: Float64Array, neg: Float32Array, regionSize: ArrayLike<number>, regions: number): ProResult {
  const curve = new CurveBuilder();
  curve.push(0, 0);
  const nNeg = neg.length;
  if (regions === 0 || nNeg === 0) return { aupro: NaN, curve: curve.done() };
  let i = pos.length - 1;
  let j = nNeg - 1;
  let fp = 0;
  let pro = 0;
  let proErr = 0; // Neumaier compensation: millions of small increments must still reach 1
  let px = 0;
  let py = 0;
  let area = 0;
  let integrating = true;
  while (i >= 0 || j >= 0) {
    const kp = i >= 0 ? Math.floor(pos[i] / ID_SPAN) : -1;
    const kn = j >= 0 ? scoreKey(neg[j]) : -1;
    const k = Math.max(kp, kn);
    while (i >= 0 && Math.floor(pos[i] / ID_SPAN) === k) {
      const region = pos[i] - k * ID_SPAN;
      const inc = 1 / (regions * regionSize[region]);
      const sum = pro + inc;
      proErr += Math.abs(pro) >= inc ? pro - sum + inc : inc - sum + pro;
      pro = sum;
      i--;
    }
    while (j >= 0 && scoreKey(neg[j]) === k) {
      fp++;
      j--;
    }
    const x = fp / nNeg;
    // every defect pixel counted: each region fully covered, PRO exactly 1
    const y = i < 0 ? 1 : Math.min(pro + proErr, 1);
    if (integrating) {
      if (x <= PRO_FPR_LIMIT) {
        area += ((x - px) * (y + py)) / 2;
      } else {
        const yCut = py + ((y - py) * (PRO_FPR_LIMIT - px)) / (x - px);
        area += ((PRO_FPR_LIMIT - px) * (py + yCut)) / 2;
        integrating = false;
      }
    }
    px = x;
    py = y;
    curve.push(x, y);
  }
  return { aupro: area / PRO_FPR_LIMIT, curve: curve.done() };
}
