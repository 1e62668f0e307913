/**
 * A bootstrap interval for pixel AUROC: images resampled (good and defective apart, as for image
 * AUROC in bootstrap.ts), each image bringing all its pixels.
 *
 * Why: pixel AUROC pools millions of pixels, but they come from a few hundred images, and which
 * images happen to be in the test is what makes the number uncertain. Re-sorting millions of
 * pixels 2000 times is out of reach, so each image's pixels are counted once into shared score
 * bins (cut at quantiles of the truth-normal and of the defect pixels, so bins are fine where
 * either has mass), and a resample's AUROC is read from its summed bin counts, pixels within one
 * bin counting as ties (1/2). The point estimate stays metrics.ts's exact one; the binning moves
 * the interval by well under 0.002 (test/eval/pixelBootstrap.test.ts).
 */
import { type BootstrapOptions, draw, type Interval, percentiles, resample } from "./bootstrap.js";
import type { ImageResult } from "./metrics.js";

/** Cut points taken from each pixel set (binEdges). */
const CUTS = 256;

/** One image's pixels counted into the shared bins, truth-normal and defect apart. */
export interface PixelCounts {
  neg: Float64Array;
  pos: Float64Array;
}

/**
 * Bin edges from sorted pixel score sets of the test (the truth-normal pixels of good images, of
 * defective images, the defect pixels): CUTS - 1 quantiles of each.
 * @returns ascending, distinct cut points (a pixel's bin is the number of cut points <= its score)
 */
export function binEdges(sets: readonly ArrayLike<number>[]): Float64Array {
  const cuts: number[] = [];
  for (const s of sets) {
    for (let q = 1; q < CUTS && s.length > 0; q++) cuts.push(s[Math.floor((q / CUTS) * s.length)]);
  }
  return Float64Array.from(new Set(cuts)).sort();
}

/** Bin of a score: how many edges are <= it. */
function binOf(edges: Float64Array, v: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (edges[mid] <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Count one image's pixels into the bins (its mask, when it has one, splits normal from defect). */
export function countPixels(r: ImageResult, edges: Float64Array): PixelCounts {
  const neg = new Float64Array(edges.length + 1);
  const pos = new Float64Array(edges.length + 1);
  for (let k = 0; k < r.map.length; k++) {
    const b = binOf(edges, r.map[k]);
    if (r.mask !== null && r.mask[k] !== 0) pos[b]++;
    else neg[b]++;
  }
  return { neg, pos };
}

/** AUROC of summed bin counts: a defect pixel beats every normal pixel in lower bins, ties 1/2 in its own. */
export function binnedAuroc(neg: Float64Array, pos: Float64Array): number {
  let below = 0;
  let wins = 0;
  let nPos = 0;
  for (let b = 0; b < neg.length; b++) {
    wins += pos[b] * (below + neg[b] / 2);
    below += neg[b];
    nPos += pos[b];
  }
  return nPos === 0 || below === 0 ? NaN : wins / (nPos * below);
}

/** How often each of n images was drawn, written into w from offset on. */
function multiplicities(w: Float64Array, offset: number, n: number, rand: () => number): void {
  for (const i of draw(n, rand)) w[offset + i]++;
}

/**
 * The pixel pairs of a test set, for the pixel AUROC intervals of it and of its subsets (each
 * defect type with the good images). Built once: each image's pixels counted into the bins, then
 * wins[i][j], the defect pixels of defective image i above the normal pixels of image j (ties
 * 1/2). A resample's AUROC is the sum over drawn pairs (i, j) of wins[i][j] over (its defect
 * pixels x its normal pixels), so it costs (defective x all) images, not pixels or bins.
 */
export class PixelPairs {
  /** Column of each image: good and defective ones. */
  private readonly col = new Map<ImageResult, number>();
  /** Row of each defective image. */
  private readonly row = new Map<ImageResult, number>();
  private readonly negTotal: Float64Array;
  private readonly posTotal: Float64Array;
  private readonly wins: Float64Array;

  /** @param edges the shared bin edges (binEdges) */
  constructor(good: readonly ImageResult[], bad: readonly ImageResult[], edges: Float64Array) {
    const all = [...good, ...bad];
    all.forEach((r, j) => this.col.set(r, j));
    bad.forEach((r, i) => this.row.set(r, i));
    const counts = all.map((r) => countPixels(r, edges));
    const total = (v: Float64Array) => v.reduce((a, b) => a + b, 0);
    this.negTotal = Float64Array.from(counts, (c) => total(c.neg));
    this.posTotal = Float64Array.from(counts.slice(good.length), (c) => total(c.pos));
    this.wins = new Float64Array(bad.length * all.length);
    counts.forEach((c, j) => {
      const below = new Float64Array(c.neg.length); // normal pixels of j in lower bins, plus half its own bin's
      for (let b = 0, run = 0; b < c.neg.length; b++) (below[b] = run + c.neg[b] / 2), (run += c.neg[b]);
      counts.slice(good.length).forEach((d, i) => {
        let w = 0;
        for (let b = 0; b < below.length; b++) if (d.pos[b] !== 0) w += d.pos[b] * below[b];
        this.wins[i * all.length + j] = w;
      });
    });
  }

  /**
   * Interval for the pixel AUROC of a set of the images given to the constructor: good and
   * defective images resampled apart. [NaN, NaN] when either side is empty.
   */
  interval(good: readonly ImageResult[], bad: readonly ImageResult[], options: BootstrapOptions = {}): Interval {
    if (good.length === 0 || bad.length === 0) return [NaN, NaN];
    const cols = Int32Array.from([...good, ...bad], (r) => this.col.get(r)!);
    const rows = Int32Array.from(bad, (r) => this.row.get(r)!);
    const width = this.col.size;
    return percentiles(
      resample(options, (rand) => {
        const w = new Float64Array(cols.length); // good images first, then defective ones
        multiplicities(w, 0, good.length, rand);
        multiplicities(w, good.length, bad.length, rand);
        let won = 0;
        let pos = 0;
        let neg = 0;
        for (let c = 0; c < cols.length; c++) neg += w[c] * this.negTotal[cols[c]];
        for (let i = 0; i < rows.length; i++) {
          const wi = w[good.length + i];
          if (wi === 0) continue;
          pos += wi * this.posTotal[rows[i]];
          const base = rows[i] * width;
          let sum = 0;
          for (let c = 0; c < cols.length; c++) sum += w[c] * this.wins[base + cols[c]];
          won += wi * sum;
        }
        return pos === 0 || neg === 0 ? NaN : won / (pos * neg);
      }),
      options,
    );
  }
}
