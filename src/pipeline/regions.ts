import type { Region } from "../types.js";
import { cellCentre, cellSize, type RoiMap } from "./roiMap.js";

/**
 * Connected regions (8-connectivity) of a binary mask over the cells of `map`, in ROI pixels: their
 * bounding box, area, centroid, elongation (ratio of the principal axes' standard deviations,
 * >= 1) and mean score. Each cell counts for the pixels it covers, with the moments those pixels
 * have, so the figures are those of the mask drawn at ROI resolution cell by cell. Regions come
 * largest first (equal areas in the raster order of their first cell).
 *
 * Works on runs (a row's consecutive set cells), not cells: runs are joined with union-find where
 * they touch the row above, and each run adds its moments from per-column prefix sums, so only the
 * scan of the mask itself visits every cell. The daemon measures every failing frame on its main
 * thread; a 320 x 180 mask (720p at 4 px cells) with 4 % set took 0.53-0.56 ms with a label per
 * cell, 0.14-0.19 with runs, most of it the scan (bench/README.md, twenty-seventh session).
 */
export function findRegions(mask: Uint8Array, map: RoiMap): Region[] {
  if (mask.length !== map.width * map.height) throw new RangeError(`mask has ${mask.length} values, not ${map.width}x${map.height}`);
  const runs = new Runs(map.height);
  const { width, height } = map;
  for (let j = 0; j < height; j++) {
    runs.row(j);
    const base = j * width;
    for (let i = 0; i < width; i++) {
      if (mask[base + i] === 0) continue;
      const s = i;
      while (i + 1 < width && mask[base + i + 1] !== 0) i++;
      runs.push(s, i, j);
    }
  }
  return measure(runs.done(), map);
}

/**
 * The mask of the cells of `map` at or above `threshold` (1 set, 0 not) and its regions as
 * {@link findRegions} measures them: what a failing frame needs. (Thresholding inside the run scan
 * instead saved 0.015 of 0.40 ms on a 320 x 180 map: not worth a second copy of the scan.)
 */
export function regionsAbove(map: RoiMap, threshold: number): { mask: Uint8Array; regions: Region[] } {
  const { data } = map;
  const mask = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) mask[i] = data[i] >= threshold ? 1 : 0;
  return { mask, regions: findRegions(mask, map) };
}

/** A mask's runs (a row's consecutive set cells) in raster order. */
class Runs {
  starts: Int32Array = new Int32Array(64);
  ends: Int32Array = new Int32Array(64);
  rows: Int32Array = new Int32Array(64);
  count = 0;
  /** rowFirst[j]: the first run of row j (or of a later row); rowFirst[height] = count. */
  readonly rowFirst: Int32Array;

  constructor(readonly height: number) {
    this.rowFirst = new Int32Array(height + 1);
  }

  /** Row `j` starts: call for every row in order. */
  row(j: number): void {
    this.rowFirst[j] = this.count;
  }

  /** A run of columns `s` to `e` (inclusive) in row `j`. */
  push(s: number, e: number, j: number): void {
    if (this.count === this.starts.length) {
      this.starts = grow(this.starts);
      this.ends = grow(this.ends);
      this.rows = grow(this.rows);
    }
    this.starts[this.count] = s;
    this.ends[this.count] = e;
    this.rows[this.count] = j;
    this.count++;
  }

  done(): this {
    this.rowFirst[this.height] = this.count;
    return this;
  }
}

/** The regions that `r`'s runs form, measured over the cells of `map`, largest first. */
function measure(r: Runs, map: RoiMap): Region[] {
  const { width, height, step, roi_width: W, roi_height: H, data } = map;
  const { starts, ends, rows, rowFirst, count: runs } = r;
  if (runs === 0) return [];
  // Per column, prefixed: pixels, their x sum and their x^2 sum (a column of c pixels centred on m
  // has sum m*c and sum of squares c*(m^2 + (c^2 - 1)/12)).
  const pw = new Float64Array(width + 1), px = new Float64Array(width + 1), pxx = new Float64Array(width + 1);
  for (let i = 0; i < width; i++) {
    const cx = cellCentre(i, step, W), cw = cellSize(i, step, W);
    pw[i + 1] = pw[i] + cw;
    px[i + 1] = px[i] + cw * cx;
    pxx[i + 1] = pxx[i] + cw * (cx * cx + (cw * cw - 1) / 12);
  }
  // Union-find over runs; the smaller index wins, so a component's root is its first run.
  const parent = new Int32Array(runs);
  for (let r = 0; r < runs; r++) parent[r] = r;
  const find = (x: number): number => {
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]];
      x = parent[x];
    }
    return x;
  };
  for (let j = 1; j < height; j++) {
    // Two pointers over this row's runs and the row above's: 8-connected when their column
    // ranges overlap or touch diagonally.
    let a = rowFirst[j - 1];
    const aEnd = rowFirst[j], bEnd = rowFirst[j + 1];
    for (let b = rowFirst[j]; b < bEnd && a < aEnd; ) {
      if (ends[a] + 1 < starts[b]) a++;
      else if (ends[b] + 1 < starts[a]) b++;
      else {
        const ra = find(a), rb = find(b);
        if (ra < rb) parent[rb] = ra;
        else if (rb < ra) parent[ra] = rb;
        // Whichever run ends first can touch no later run of the other row.
        if (ends[a] < ends[b]) a++;
        else b++;
      }
    }
  }
  // Component numbers in the order of their roots, i.e. of their first cell in raster order.
  const comp = new Int32Array(runs);
  let count = 0;
  for (let r = 0; r < runs; r++) comp[r] = find(r) === r ? count++ : comp[parent[r]];
  const n = new Float64Array(count), sx = new Float64Array(count), sy = new Float64Array(count);
  const sxx = new Float64Array(count), syy = new Float64Array(count), sxy = new Float64Array(count), ss = new Float64Array(count);
  const minX = new Int32Array(count).fill(width), minY = new Int32Array(count).fill(height);
  const maxX = new Int32Array(count), maxY = new Int32Array(count);
  for (let r = 0; r < runs; r++) {
    const l = comp[r], j = rows[r], s = starts[r], e = ends[r] + 1;
    const cy = cellCentre(j, step, H), ch = cellSize(j, step, H);
    const a = ch * (pw[e] - pw[s]), ax = ch * (px[e] - px[s]);
    n[l] += a;
    sx[l] += ax;
    sy[l] += a * cy;
    sxx[l] += ch * (pxx[e] - pxx[s]);
    syy[l] += a * (cy * cy + (ch * ch - 1) / 12);
    sxy[l] += ax * cy;
    let sum = 0;
    for (let i = s, p = j * width + s; i < e; i++, p++) sum += (pw[i + 1] - pw[i]) * data[p];
    ss[l] += ch * sum;
    if (s < minX[l]) minX[l] = s;
    if (e - 1 > maxX[l]) maxX[l] = e - 1;
    if (j < minY[l]) minY[l] = j;
    maxY[l] = j;
  }
  const total = W * H;
  const regions: Region[] = [];
  for (let l = 0; l < count; l++) {
    const cx = sx[l] / n[l], cy = sy[l] / n[l];
    // Second central moments, plus 1/12 for a pixel's own extent so single pixels are round.
    const vxx = sxx[l] / n[l] - cx * cx + 1 / 12;
    const vyy = syy[l] / n[l] - cy * cy + 1 / 12;
    const vxy = sxy[l] / n[l] - cx * cy;
    const tr = vxx + vyy;
    const disc = Math.sqrt(Math.max(0, ((vxx - vyy) / 2) ** 2 + vxy * vxy));
    const l1 = tr / 2 + disc, l2 = Math.max(tr / 2 - disc, 1e-9);
    const x = minX[l] * step, y = minY[l] * step;
    regions.push({
      x, y,
      width: Math.min(W, (maxX[l] + 1) * step) - x,
      height: Math.min(H, (maxY[l] + 1) * step) - y,
      area_px: n[l],
      area_pct: (100 * n[l]) / total,
      elongation: Math.sqrt(l1 / l2),
      mean_score: ss[l] / n[l],
      cx, cy,
    });
  }
  return regions.sort((a, b) => b.area_px - a.area_px);
}

/** The same values in an array twice as long. */
function grow(a: Int32Array): Int32Array {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}
