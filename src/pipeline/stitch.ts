import type { TileMap } from "../types.js";
import { cellCentre, cellCount, type RoiMap } from "./roiMap.js";

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

/** Centres of the cells along one axis, pixel-index units. */
function cellCentres(length: number, step: number): Float64Array {
  const g = new Float64Array(cellCount(length, step));
  for (let i = 0; i < g.length; i++) g[i] = cellCentre(i, step, length);
  return g;
}

/**
 * Blends tile maps into one map of a `width` x `height` ROI as they arrive: each tile's map is
 * sampled bilinearly at the centres of the ROI map's cells of `step` px (see {@link stitchStep})
 * and overlaps are blended with edge-tapered weights. `add()` costs one pass over the tile's
 * cells, so a frame's stitching is spread over the batches its tiles come back in.
 */
export class StitchAccumulator {
  private readonly gx: Float64Array;
  private readonly gy: Float64Array;
  private readonly acc: Float32Array;
  private readonly wsum: Float32Array;

  constructor(
    readonly width: number,
    readonly height: number,
    readonly step = 1,
  ) {
    this.gx = cellCentres(width, step);
    this.gy = cellCentres(height, step);
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

  /** The blended map; the accumulator must not be used afterwards. */
  finish(): RoiMap {
    const { acc, wsum } = this;
    for (let i = 0; i < acc.length; i++) {
      const w = wsum[i];
      acc[i] = w > 0 ? acc[i] / w : 0;
    }
    return { data: acc, width: this.gx.length, height: this.gy.length, step: this.step, roi_width: this.width, roi_height: this.height };
  }
}

/**
 * Joins the tile maps of one frame into one map of a `width` x `height` ROI: each tile's map is
 * resized bilinearly onto its rectangle and overlaps are blended with edge-tapered weights (on
 * cells of the first tile's {@link stitchStep}, as the daemon does).
 */
export function stitchMaps(tiles: readonly TileMap[], width: number, height: number): RoiMap {
  const s = new StitchAccumulator(width, height, tiles.length ? stitchStep(tiles[0]) : 1);
  for (const t of tiles) s.add(t);
  return s.finish();
}
