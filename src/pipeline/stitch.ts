import type { TileMap } from "../types.js";

/**
 * Blending weight along one axis of a tile: 1 in the middle, falling linearly over the outer
 * quarter towards the edges but never to 0, so a tile edge that no other tile covers still counts.
 */
function ramp(d: number, length: number): number {
  const edge = Math.min(d + 0.5, length - d - 0.5);
  const r = Math.max(1, length / 4);
  return Math.min(1, Math.max(0.05, edge / r));
}

/**
 * Grid step, in ROI px, at which a tile map needs blending: half a map cell (two samples per
 * cell keep all the map holds); 1 when the map is as fine as the ROI.
 */
export function stitchStep(t: Pick<TileMap, "rect" | "map_width" | "map_height">): number {
  return Math.max(1, Math.floor(Math.min(t.rect.width / t.map_width, t.rect.height / t.map_height) / 2));
}

/** Grid positions along one axis: every `step` px from 0, the last one on the far edge. */
function gridPositions(length: number, step: number): Int32Array {
  const n = Math.ceil((length - 1) / step) + 1;
  const g = new Int32Array(n);
  for (let i = 0; i < n; i++) g[i] = Math.min(i * step, length - 1);
  return g;
}

/** For every pixel along an axis: the grid points around it and the blend between them. */
function upsampleAxis(g: Int32Array, length: number) {
  const i0 = new Int32Array(length), i1 = new Int32Array(length), f = new Float32Array(length);
  let k = 0;
  for (let x = 0; x < length; x++) {
    while (k + 1 < g.length - 1 && g[k + 1] <= x) k++;
    const k1 = Math.min(k + 1, g.length - 1);
    i0[x] = k;
    i1[x] = k1;
    f[x] = g[k1] > g[k] ? Math.min(1, (x - g[k]) / (g[k1] - g[k])) : 0;
  }
  return { i0, i1, f };
}

/**
 * Blends tile maps into one map of `width` x `height` (ROI pixels) as they arrive: each tile's map
 * is resized bilinearly onto its rectangle and overlaps are blended with edge-tapered weights.
 * The blend is computed on a grid of `step` px (see {@link stitchStep}) and resized to the ROI
 * once in `finish()`: the tile maps are far coarser than the ROI, so blending every pixel would
 * cost many times more for the same map. `add()` costs one pass over the tile's grid points, so
 * a frame's stitching is spread over the batches its tiles come back in.
 */
export class StitchAccumulator {
  private readonly gx: Int32Array;
  private readonly gy: Int32Array;
  private readonly acc: Float32Array;
  private readonly wsum: Float32Array;

  constructor(
    readonly width: number,
    readonly height: number,
    readonly step = 1,
  ) {
    this.gx = gridPositions(width, step);
    this.gy = gridPositions(height, step);
    this.acc = new Float32Array(this.gx.length * this.gy.length);
    this.wsum = new Float32Array(this.gx.length * this.gy.length);
  }

  /** Blends one tile map in. */
  add(t: TileMap): void {
    const { gx, gy, acc, wsum } = this;
    const gw = gx.length;
    const { rect, map, map_width: mw, map_height: mh } = t;
    const x0 = Math.max(0, rect.x), x1 = Math.min(this.width, rect.x + rect.width);
    const y0 = Math.max(0, rect.y), y1 = Math.min(this.height, rect.y + rect.height);
    let c0 = 0;
    while (c0 < gw && gx[c0] < x0) c0++;
    let c1 = c0;
    while (c1 < gw && gx[c1] < x1) c1++;
    const cols = c1 - c0;
    if (cols <= 0 || y1 <= y0) return;
    const sx = mw / rect.width;
    const sy = mh / rect.height;
    // Separable: interpolate every map row across the columns once (weighted by the column ramp),
    // then each output row is one lerp between two of those rows.
    const wu = new Float32Array(cols);
    const rows = new Float32Array(mh * cols);
    for (let i = 0; i < cols; i++) {
      const dx = gx[c0 + i] - rect.x;
      const u = Math.min(Math.max((dx + 0.5) * sx - 0.5, 0), mw - 1);
      const u0 = Math.floor(u);
      const u1 = Math.min(u0 + 1, mw - 1);
      const fu = u - u0;
      const w = ramp(dx, rect.width);
      wu[i] = w;
      for (let r = 0, m = 0; r < mh; r++, m += mw) rows[r * cols + i] = (map[m + u0] * (1 - fu) + map[m + u1] * fu) * w;
    }
    for (let j = 0; j < gy.length; j++) {
      const py = gy[j];
      if (py < y0 || py >= y1) continue;
      const dy = py - rect.y;
      const v = Math.min(Math.max((dy + 0.5) * sy - 0.5, 0), mh - 1);
      const v0 = Math.floor(v);
      const v1 = Math.min(v0 + 1, mh - 1);
      const fv = v - v0;
      const wv = ramp(dy, rect.height);
      const a = wv * (1 - fv), b = wv * fv;
      const r0 = v0 * cols, r1 = v1 * cols;
      const o = j * gw + c0;
      for (let i = 0; i < cols; i++) {
        acc[o + i] += rows[r0 + i] * a + rows[r1 + i] * b;
        wsum[o + i] += wu[i] * wv;
      }
    }
  }

  /** The blended map at ROI resolution; the accumulator must not be used afterwards. */
  finish(): Float32Array {
    const steps = this.finishSteps(Infinity);
    for (;;) {
      const r = steps.next();
      if (r.done) return r.value;
    }
  }

  /**
   * finish() in steps of at most `rowsPerStep` output rows, so a caller can let the event loop run
   * between them (a 1080p map is millions of values); the generator's return value is the map.
   */
  *finishSteps(rowsPerStep = 270): Generator<void, Float32Array, void> {
    const { acc, wsum, width, height, gx, gy } = this;
    for (let i = 0; i < acc.length; i++) {
      const w = wsum[i];
      acc[i] = w > 0 ? acc[i] / w : 0;
    }
    if (this.step === 1) return acc;
    // Bilinear resize of the grid to the ROI, rows first.
    const gw = gx.length;
    const X = upsampleAxis(gx, width), Y = upsampleAxis(gy, height);
    const rows = new Float32Array(gy.length * width);
    for (let j = 0; j < gy.length; j++) {
      const o = j * width, g = j * gw;
      for (let x = 0; x < width; x++) rows[o + x] = acc[g + X.i0[x]] + (acc[g + X.i1[x]] - acc[g + X.i0[x]]) * X.f[x];
    }
    const out = new Float32Array(width * height);
    for (let y0 = 0; y0 < height; y0 += rowsPerStep) {
      yield;
      for (let y = y0; y < Math.min(height, y0 + rowsPerStep); y++) {
        const r0 = Y.i0[y] * width, r1 = Y.i1[y] * width, f = Y.f[y], o = y * width;
        for (let x = 0; x < width; x++) out[o + x] = rows[r0 + x] + (rows[r1 + x] - rows[r0 + x]) * f;
      }
    }
    return out;
  }
}

/**
 * Joins the tile maps of one frame into one map of `width` x `height` (ROI pixels): each tile's
 * map is resized bilinearly onto its rectangle and overlaps are blended with edge-tapered weights
 * (on the grid of {@link stitchStep} of the first tile, as the daemon does).
 */
export function stitchMaps(tiles: readonly TileMap[], width: number, height: number): Float32Array {
  const s = new StitchAccumulator(width, height, tiles.length ? stitchStep(tiles[0]) : 1);
  for (const t of tiles) s.add(t);
  return s.finish();
}
