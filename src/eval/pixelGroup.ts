/**
 * The pixel sets of one group of test images (the good ones, or one defect type's), sorted once
 * so that metrics.ts can merge groups instead of sorting again: truth-normal and defect pixel
 * scores, defect pixels packed with their truth region (proCurve.ts), and the per-image IoUs at
 * the shipped pixel threshold. For a set labelled per image only, the pixel sets are left empty
 * (nothing to rank them against) and only the scores and the good images' IoUs are kept.
 */
import { labelComponents } from "../pipeline/labelComponents.js";
import type { ImageResult } from "./metrics.js";
import { MAX_REGIONS, packPositive } from "./proCurve.js";
import { mergeSorted } from "./rocCurve.js";

/** Pixel sets of one group of images, sorted. */
export interface Group {
  images: number;
  results: ImageResult[];
  scores: number[];
  neg: Float32Array;
  pos: Float32Array;
  packed: Float64Array;
  regions: number;
  iouNormal: number[];
  iouNormalPixel: number[];
  iouAnomalous: number[];
  /** Defective images with their truth regions' global ids, start .. start + count - 1. */
  spans: { result: ImageResult; start: number; count: number }[];
}

/**
 * Build one group's sorted pixel sets and per-image IoUs; region ids continue from `regionSize.length`.
 * @param pixels false to skip the pixel sets (neg, pos, packed stay empty, masks are not read, no sorting)
 */
export function buildGroup(results: readonly ImageResult[], pixelThreshold: number, regionSize: number[], pixels = true): Group {
  let nNeg = 0;
  let nPos = 0;
  for (const r of pixels ? results : []) {
    let p = 0;
    if (r.mask !== null) for (let k = 0; k < r.mask.length; k++) p += r.mask[k] !== 0 ? 1 : 0;
    nPos += p;
    nNeg += r.map.length - p;
  }
  const neg = new Float32Array(nNeg);
  const pos = new Float32Array(nPos);
  const packed = new Float64Array(nPos);
  const g: Group = { images: results.length, results: [...results], scores: [], neg, pos, packed, regions: 0, iouNormal: [], iouNormalPixel: [], iouAnomalous: [], spans: [] };
  let a = 0;
  let b = 0;
  for (const r of results) {
    g.scores.push(r.score);
    const { map, mask } = r;
    let flagged = 0;
    let inter = 0;
    let truth = 0;
    const comps = mask === null || !pixels ? null : labelComponents(mask, r.width, r.height);
    const base = regionSize.length;
    if (comps !== null) {
      if (base + comps.count > MAX_REGIONS) throw new RangeError(`more than ${MAX_REGIONS} truth regions`);
      regionSize.push(...comps.sizes);
      g.regions += comps.count;
      g.spans.push({ result: r, start: base, count: comps.count });
    }
    for (let k = 0; k < map.length; k++) {
      const v = map[k];
      if (Number.isNaN(v)) throw new RangeError(`${r.type}/${r.name}: NaN in map at pixel ${k}`);
      const hit = v >= pixelThreshold;
      if (hit) flagged++;
      if (comps !== null && comps.labels[k] !== 0) {
        truth++;
        if (hit) inter++;
        pos[b] = v;
        packed[b++] = packPositive(v, base + comps.labels[k] - 1);
      } else if (pixels) {
        neg[a++] = v;
      }
    }
    if (!r.defective) {
      g.iouNormal.push(flagged === 0 ? 1 : 0);
      g.iouNormalPixel.push(1 - flagged / map.length);
    } else if (comps !== null) {
      const union = flagged + truth - inter;
      g.iouAnomalous.push(union === 0 ? 1 : inter / union);
    }
  }
  neg.sort();
  pos.sort();
  packed.sort();
  return g;
}

/** The groups as one (pixel sets merged, not sorted again). */
export function concatGroups(groups: readonly Group[]): Group {
  const [first, ...rest] = groups;
  return rest.reduce<Group>(
    (acc, g) => ({
      images: acc.images + g.images,
      results: acc.results.concat(g.results),
      scores: acc.scores.concat(g.scores),
      neg: mergeSorted(acc.neg, g.neg),
      pos: mergeSorted(acc.pos, g.pos),
      packed: mergeSorted(acc.packed, g.packed),
      regions: acc.regions + g.regions,
      iouNormal: acc.iouNormal.concat(g.iouNormal),
      iouNormalPixel: acc.iouNormalPixel.concat(g.iouNormalPixel),
      iouAnomalous: acc.iouAnomalous.concat(g.iouAnomalous),
      spans: acc.spans.concat(g.spans),
    }),
    first,
  );
}
