/**
 * An anomaly map over a ROI, one value per cell of `step` x `step` ROI px, row-major; the last
 * column and row of cells are narrower where the ROI is not a multiple of `step`. The model's maps
 * are far coarser than the ROI (a 512 px tile gives a 64 x 64 map: 8 px a value), so the daemon
 * stitches, thresholds and measures regions on cells of half a map value and never builds a
 * map of every ROI pixel: at 1080p that is 130 k values instead of 2 M.
 */
export interface RoiMap {
  data: Float32Array;
  /** Cells across and down. */
  width: number;
  height: number;
  /** Side of a cell, ROI px (>= 1). */
  step: number;
  /** Size of the ROI the map covers, px. */
  roi_width: number;
  roi_height: number;
}

/** Cells along an axis of `length` px. */
export function cellCount(length: number, step: number): number {
  return Math.ceil(length / step);
}

/** Centre of cell `i` along an axis, in pixel-index units (pixel k's centre is k). */
export function cellCentre(i: number, step: number, length: number): number {
  const lo = i * step;
  return (lo + Math.min(lo + step, length) - 1) / 2;
}

/** Pixels in cell `i` along an axis. */
export function cellSize(i: number, step: number, length: number): number {
  return Math.min(step, length - i * step);
}

/** An empty (zero) map of a ROI. */
export function emptyRoiMap(roiWidth: number, roiHeight: number, step: number): RoiMap {
  const width = cellCount(roiWidth, step), height = cellCount(roiHeight, step);
  return { data: new Float32Array(width * height), width, height, step, roi_width: roiWidth, roi_height: roiHeight };
}

/** A map with one cell per ROI pixel. */
export function pixelMap(data: Float32Array, width: number, height: number): RoiMap {
  if (data.length !== width * height) throw new RangeError(`map has ${data.length} values, not ${width}x${height}`);
  return { data, width, height, step: 1, roi_width: width, roi_height: height };
}

/** For every pixel along an axis: the cells whose centres bracket it and the blend between them. */
function axisWeights(cells: number, step: number, length: number) {
  const i0 = new Int32Array(length), i1 = new Int32Array(length), f = new Float32Array(length);
  let k = 0;
  for (let x = 0; x < length; x++) {
    while (k + 1 < cells && cellCentre(k + 1, step, length) <= x) k++;
    const c0 = cellCentre(k, step, length);
    const k1 = Math.min(k + 1, cells - 1);
    const c1 = cellCentre(k1, step, length);
    i0[x] = k;
    i1[x] = k1;
    f[x] = c1 > c0 ? Math.min(1, Math.max(0, (x - c0) / (c1 - c0))) : 0;
  }
  return { i0, i1, f };
}

/**
 * The map at ROI resolution, bilinear between cell centres (flat beyond the outer centres), for
 * evaluation against pixel masks and for pictures; the daemon itself never needs it. Bilinear
 * interpolation never exceeds its nodes, so the maximum is the map's own.
 */
export function toPixels(m: RoiMap): Float32Array {
  if (m.step === 1) return m.data;
  const { data, width: gw, height: gh, step, roi_width: W, roi_height: H } = m;
  const X = axisWeights(gw, step, W), Y = axisWeights(gh, step, H);
  const rows = new Float32Array(gh * W);
  for (let j = 0; j < gh; j++) {
    const o = j * W, g = j * gw;
    for (let x = 0; x < W; x++) rows[o + x] = data[g + X.i0[x]] + (data[g + X.i1[x]] - data[g + X.i0[x]]) * X.f[x];
  }
  const out = new Float32Array(W * H);
  for (let y = 0; y < H; y++) {
    const r0 = Y.i0[y] * W, r1 = Y.i1[y] * W, f = Y.f[y], o = y * W;
    for (let x = 0; x < W; x++) out[o + x] = rows[r0 + x] + (rows[r1 + x] - rows[r0 + x]) * f;
  }
  return out;
}

/** A cell mask at ROI resolution (nearest cell), 1 = defect. */
export function maskToPixels(mask: Uint8Array, m: Pick<RoiMap, "width" | "height" | "step" | "roi_width" | "roi_height">): Uint8Array {
  if (m.step === 1) return mask;
  const { width: gw, step, roi_width: W, roi_height: H } = m;
  const out = new Uint8Array(W * H);
  for (let y = 0; y < H; y++) {
    const g = Math.floor(y / step) * gw, o = y * W;
    for (let x = 0; x < W; x++) out[o + x] = mask[g + Math.floor(x / step)];
  }
  return out;
}
