/**
 * How sure the evaluation's headline numbers are: percentile bootstrap intervals (Efron and
 * Tibshirani, "An Introduction to the Bootstrap", 1993, ch. 13) for image AUROC and AUPRO, and
 * paired ones for the differences between two models scored on the same images.
 *
 * Why: a test set of a few hundred images measures AUROC to about +-0.03 (magnetic-tile's 400:
 * 0.850-0.916 around 0.885); two models 0.01 apart may not differ at all. Resampling is
 * stratified (good and defective images drawn apart, with replacement, as many as there are),
 * seeded with splitmix32 so a report repeats exactly.
 * AUPRO resamples defective images with their truth regions, the FPR axis held (the thresholds
 * of the full set): the interval says which defects happened to be in the test, not which good
 * pixels.
 */
import { seededRandom } from "./dataset.js";
import { budgetThreshold } from "./operatingPoints.js";
import { PRO_FPR_LIMIT, scoreKey, unpackPositive } from "./proCurve.js";
import { rocCurve, sortedScores } from "./rocCurve.js";

/** A two-sided interval, [low, high]. */
export type Interval = [number, number];

/** Options of the bootstrap. */
export interface BootstrapOptions {
  /** Resamples. Defaults to 2000. */
  resamples?: number;
  /** Seed of the draws. Defaults to 0. */
  seed?: number;
  /** Coverage, 0..1. Defaults to 0.95. */
  level?: number;
}

const PRO_GRID = 120; // FPR points from 0 to PRO_FPR_LIMIT for the resampled AUPROs

/** Exact AUROC of scores pos against neg (rocCurve.ts; ties count 1/2). NaN when a side is empty. */
export function rankAuroc(pos: ArrayLike<number>, neg: ArrayLike<number>): number {
  return rocCurve(sortedScores(pos, "positive scores"), sortedScores(neg, "negative scores")).auroc;
}

/** Indices 0..n-1 drawn n times with replacement. */
export function draw(n: number, rand: () => number): number[] {
  return Array.from({ length: n }, () => Math.floor(rand() * n));
}

/** The statistic on `options.resamples` resamples (each given the seeded stream to draw with). */
export function resample(options: BootstrapOptions, statistic: (rand: () => number) => number): number[] {
  const rand = seededRandom(options.seed ?? 0);
  return Array.from({ length: options.resamples ?? 2000 }, () => statistic(rand));
}

/** The percentile interval of resampled values (NaNs left out); [NaN, NaN] when none is left. */
export function percentiles(v: readonly number[], options: BootstrapOptions): Interval {
  const level = options.level ?? 0.95;
  const s = v.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return [NaN, NaN];
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.round(q * (s.length - 1))))];
  return [at((1 - level) / 2), at((1 + level) / 2)];
}

const pick = (v: readonly number[], idx: readonly number[]) => idx.map((i) => v[i]);

/**
 * Interval for the image AUROC of defective scores `pos` against good scores `neg`.
 * [NaN, NaN] when either side is empty.
 */
export function aurocInterval(pos: readonly number[], neg: readonly number[], options: BootstrapOptions = {}): Interval {
  if (pos.length === 0 || neg.length === 0) return [NaN, NaN];
  return percentiles(resample(options, (rand) => rankAuroc(pick(pos, draw(pos.length, rand)), pick(neg, draw(neg.length, rand)))), options);
}

/** Scores of one model on a test set: defective and good images, in a fixed image order. */
export interface ScoredSet {
  pos: readonly number[];
  neg: readonly number[];
}

/** The paired comparison of two models' image AUROC. */
export interface PairedDifference {
  /** AUROC of a minus AUROC of b on the same images. */
  difference: number;
  /** Interval of the difference. */
  interval: Interval;
  /** Share of resamples in which a is not better than b (difference <= 0): a one-sided p. */
  share_not_better: number;
}

/**
 * Image AUROC of model a minus model b, both scored on the same images in the same order; each
 * resample draws one set of images and scores both models on it, so what the two share (which
 * images are hard) cancels out.
 */
export function pairedAurocDifference(a: ScoredSet, b: ScoredSet, options: BootstrapOptions = {}): PairedDifference {
  if (a.pos.length !== b.pos.length || a.neg.length !== b.neg.length) {
    throw new RangeError(`paired sets differ in size: ${a.pos.length}+${a.neg.length} against ${b.pos.length}+${b.neg.length} images`);
  }
  return paired(rankAuroc(a.pos, a.neg) - rankAuroc(b.pos, b.neg), options, (rand) => {
    const ip = draw(a.pos.length, rand);
    const ineg = draw(a.neg.length, rand);
    return rankAuroc(pick(a.pos, ip), pick(a.neg, ineg)) - rankAuroc(pick(b.pos, ip), pick(b.neg, ineg));
  });
}

/**
 * Share of defective scores `pos` failed at the threshold a good-fail budget picks on good scores
 * `neg` (operatingPoints.ts: just above the (m + 1)-th highest, m = floor(budget x n)). NaN when
 * a side is empty or the budget leaves no good part to pass.
 */
export function catchAtBudget(pos: readonly number[], neg: readonly number[], budget: number): number {
  const picked = budgetThreshold(Float64Array.from(neg).sort(), budget);
  return pos.length === 0 || picked === null ? NaN : pos.filter((v) => v >= picked.threshold).length / pos.length;
}

/**
 * Defects caught at a good-fail budget by model a minus model b, on the same images; each
 * resample picks both thresholds again on its own good images, so the interval holds how
 * uncertain the threshold is as well as the catch.
 */
export function pairedCatchDifference(a: ScoredSet, b: ScoredSet, budget: number, options: BootstrapOptions = {}): PairedDifference {
  if (a.pos.length !== b.pos.length || a.neg.length !== b.neg.length) {
    throw new RangeError(`paired sets differ in size: ${a.pos.length}+${a.neg.length} against ${b.pos.length}+${b.neg.length} images`);
  }
  return paired(catchAtBudget(a.pos, a.neg, budget) - catchAtBudget(b.pos, b.neg, budget), options, (rand) => {
    const ip = draw(a.pos.length, rand);
    const ineg = draw(a.neg.length, rand);
    return catchAtBudget(pick(a.pos, ip), pick(a.neg, ineg), budget) - catchAtBudget(pick(b.pos, ip), pick(b.neg, ineg), budget);
  });
}

/** A paired difference: its interval and the share of resampled differences <= 0. */
function paired(difference: number, options: BootstrapOptions, resampled: (rand: () => number) => number): PairedDifference {
  if (Number.isNaN(difference)) return { difference, interval: [NaN, NaN], share_not_better: NaN };
  const d = resample(options, resampled);
  return { difference, interval: percentiles(d, options), share_not_better: d.filter((x) => x <= 0).length / d.length };
}

/** One defective image's part of AUPRO: the summed PRO areas of its truth regions, and how many. */
export interface ImagePro {
  /** Sum over the image's regions of each one's normalised area under overlap-vs-FPR to the limit. */
  area: number;
  /** Truth regions in the image. */
  regions: number;
}

/**
 * Each truth region's normalised area under its own overlap-against-FPR curve up to
 * PRO_FPR_LIMIT, read at PRO_GRID thresholds (the normal-pixel scores at FPR 0..limit). AUPRO is
 * the mean of these over regions, so an image's share of it adds up, and resampling images is a
 * sum (the grid puts it within about 0.002 of proCurve's exact AUPRO).
 * @param pos packed defect pixels (proCurve.ts packPositive), sorted ascending
 * @param neg truth-normal pixel scores, sorted ascending
 * @param regionSize pixels in each region, by global region id
 * @returns area by global region id
 */
export function regionProAreas(pos: Float64Array, neg: Float32Array, regionSize: ArrayLike<number>): Map<number, number> {
  const area = new Map<number, number>();
  if (pos.length === 0 || neg.length === 0) return area;
  const regionId = (v: number) => unpackPositive(v)[1];
  const count = new Map<number, number>();
  for (let i = 0; i < pos.length; i++) count.set(regionId(pos[i]), 0), area.set(regionId(pos[i]), 0);
  let i = pos.length - 1;
  let last = new Map(count); // overlaps counted at the previous threshold (FPR 0: none)
  for (let g = 1; g < PRO_GRID; g++) {
    const fpr = (g / (PRO_GRID - 1)) * PRO_FPR_LIMIT;
    const key = scoreKey(neg[Math.min(neg.length - 1, Math.ceil((1 - fpr) * neg.length))]);
    for (; i >= 0 && unpackPositive(pos[i])[0] >= key; i--) {
      const id = regionId(pos[i]);
      count.set(id, count.get(id)! + 1);
    }
    for (const [id, c] of count) area.set(id, area.get(id)! + (c + last.get(id)!) / (2 * regionSize[id] * (PRO_GRID - 1)));
    last = new Map(count);
  }
  return area;
}

/** AUPRO of a set of defective images from their ImagePro parts. */
export function auproOf(images: readonly ImagePro[]): number {
  let a = 0;
  let n = 0;
  for (const im of images) (a += im.area), (n += im.regions);
  return n === 0 ? NaN : a / n;
}

/** Interval for AUPRO: defective images resampled with their regions, the FPR axis held. */
export function proInterval(images: readonly ImagePro[], options: BootstrapOptions = {}): Interval {
  if (Number.isNaN(auproOf(images))) return [NaN, NaN];
  return percentiles(resample(options, (rand) => auproOf(draw(images.length, rand).map((i) => images[i]))), options);
}

/** AUPRO of a minus b on the same defective images (same order), paired as pairedAurocDifference. */
export function pairedProDifference(a: readonly ImagePro[], b: readonly ImagePro[], options: BootstrapOptions = {}): PairedDifference {
  if (a.length !== b.length) throw new RangeError(`paired sets differ in size: ${a.length} against ${b.length} images`);
  return paired(auproOf(a) - auproOf(b), options, (rand) => {
    const idx = draw(a.length, rand);
    return auproOf(idx.map((i) => a[i])) - auproOf(idx.map((i) => b[i]));
  });
}
