import type { TileMap } from "../types.js";
import { cellCentre, cellCount, type RoiMap } from "./roiMap.js";
import { StitchKernel, type FootprintTables } from "./stitchSimd.js";

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

/** A tile rectangle's footprint on a grid, with the ramps alone for the blend weights. */
interface TileFootprint extends FootprintTables {
  /** The rectangle and map size it was made for (the key of the caches). */
  key: string;
  /** The column ramp alone. */
  wu: Float32Array;
  /** The row ramp alone. */
  wv: Float32Array;
}

/**
 * What every frame of one ROI size and cell step shares: the cells' centres, each tile
 * rectangle's footprint, and, per set of rectangles, the inverse of the summed blend weights
 * (the same every frame, so a frame's stitching is one weighted add per cell and one multiply).
 */
class StitchGrid {
  readonly gx: Float64Array;
  readonly gy: Float64Array;
  private readonly footprints = new Map<string, TileFootprint>();
  private readonly inverses = new Map<string, Float32Array>();
  /** Scratch for one tile's column-interpolated map rows. */
  scratch = new Float32Array(0);

  constructor(
    readonly width: number,
    readonly height: number,
    step: number,
  ) {
    this.gx = cellCentres(width, step);
    this.gy = cellCentres(height, step);
  }

  /** The footprint of a tile rectangle with a `mw` x `mh` map (null: it covers no cell). */
  footprint(rect: TileMap["rect"], mw: number, mh: number): TileFootprint | null {
    const key = `${rect.x},${rect.y},${rect.width},${rect.height},${mw},${mh}`;
    const hit = this.footprints.get(key);
    if (hit !== undefined) return hit;
    const { gx, gy } = this;
    const x0 = Math.max(0, rect.x), x1 = Math.min(this.width, rect.x + rect.width);
    const y0 = Math.max(0, rect.y), y1 = Math.min(this.height, rect.y + rect.height);
    let c0 = 0;
    while (c0 < gx.length && gx[c0] < x0) c0++;
    let c1 = c0;
    while (c1 < gx.length && gx[c1] < x1) c1++;
    const cols = c1 - c0;
    if (cols <= 0 || y1 <= y0) return null;
    const sx = mw / rect.width;
    const sy = mh / rect.height;
    const u0 = new Int32Array(cols), u1 = new Int32Array(cols);
    const wu0 = new Float32Array(cols), wu1 = new Float32Array(cols), wu = new Float32Array(cols);
    for (let i = 0; i < cols; i++) {
      const dx = gx[c0 + i] - rect.x;
      const u = Math.min(Math.max((dx + 0.5) * sx - 0.5, 0), mw - 1);
      u0[i] = Math.floor(u);
      u1[i] = Math.min(u0[i] + 1, mw - 1);
      const fu = u - u0[i];
      wu[i] = ramp(dx, rect.width);
      wu0[i] = (1 - fu) * wu[i];
      wu1[i] = fu * wu[i];
    }
    const js: number[] = [];
    for (let j = 0; j < gy.length; j++) if (gy[j] >= y0 && gy[j] < y1) js.push(j);
    const n = js.length;
    const fp: TileFootprint = {
      key, c0, cols, u0, u1, wu0, wu1, wu,
      rowsOut: Int32Array.from(js), v0: new Int32Array(n), v1: new Int32Array(n), wv0: new Float32Array(n), wv1: new Float32Array(n), wv: new Float32Array(n),
    };
    for (let k = 0; k < n; k++) {
      const dy = gy[js[k]] - rect.y;
      const v = Math.min(Math.max((dy + 0.5) * sy - 0.5, 0), mh - 1);
      fp.v0[k] = Math.floor(v);
      fp.v1[k] = Math.min(fp.v0[k] + 1, mh - 1);
      const fv = v - fp.v0[k];
      fp.wv[k] = ramp(dy, rect.height);
      fp.wv0[k] = (1 - fv) * fp.wv[k];
      fp.wv1[k] = fv * fp.wv[k];
    }
    if (this.footprints.size >= MAX_FOOTPRINTS) this.footprints.clear();
    this.footprints.set(key, fp);
    return fp;
  }

  /** 1 / (sum of the blend weights) per cell for these footprints, 0 where no tile reaches. */
  inverse(tiles: readonly TileFootprint[]): Float32Array {
    const key = tiles.map((fp) => fp.key).sort().join(";");
    const hit = this.inverses.get(key);
    if (hit !== undefined) return hit;
    const gw = this.gx.length;
    const inv = new Float32Array(gw * this.gy.length);
    for (const fp of tiles) {
      for (let k = 0; k < fp.rowsOut.length; k++) {
        const o = fp.rowsOut[k] * gw + fp.c0;
        const wv = fp.wv[k];
        for (let i = 0; i < fp.cols; i++) inv[o + i] += fp.wu[i] * wv;
      }
    }
    for (let i = 0; i < inv.length; i++) inv[i] = inv[i] > 0 ? 1 / inv[i] : 0;
    if (this.inverses.size >= MAX_INVERSES) this.inverses.clear();
    this.inverses.set(key, inv);
    return inv;
  }
}

/** Footprints and weight sets kept per grid: a daemon's tile plans are few and fixed. */
const MAX_FOOTPRINTS = 256;
const MAX_INVERSES = 8;
/** Grids kept (one per ROI size and step); eval's images of many sizes cycle through them. */
const MAX_GRIDS = 16;
const grids = new Map<string, StitchGrid>();

function gridFor(width: number, height: number, step: number): StitchGrid {
  const key = `${width}x${height}/${step}`;
  let g = grids.get(key);
  if (g !== undefined) {
    // Most recently used last, so the oldest goes first when the cache is full.
    grids.delete(key);
  } else {
    if (grids.size >= MAX_GRIDS) grids.delete(grids.keys().next().value!);
    g = new StitchGrid(width, height, step);
  }
  grids.set(key, g);
  return g;
}

/** The WebAssembly SIMD path of {@link StitchAccumulator}, or null where the runtime lacks it. */
export const stitchKernel = StitchKernel.create();

/**
 * Blends tile maps into one map of a `width` x `height` ROI as they arrive: each tile's map is
 * sampled bilinearly at the centres of the ROI map's cells of `step` px (see {@link stitchStep})
 * and overlaps are blended with edge-tapered weights. `add()` costs one pass over the tile's
 * cells, so a frame's stitching is spread over the batches its tiles come back in; the blend
 * weights depend only on the tile rectangles, so they are summed once per tile plan and reused.
 *
 * The blending runs in WebAssembly SIMD where the runtime has it (`kernel`, the default; the
 * frame's grid then lives in the kernel's memory until {@link finish}), else in JavaScript
 * (`kernel` null). An accumulator that will not be finished should be given up with
 * {@link dispose} (one that is not is given back when collected).
 */
export class StitchAccumulator {
  private readonly grid: StitchGrid;
  /** The JavaScript path's grid; empty on the kernel's path. */
  private readonly acc: Float32Array;
  /** The grid's offset in the kernel's memory; -1 on the JavaScript path or once finished. */
  private at = -1;
  private readonly added: TileFootprint[] = [];

  constructor(
    readonly width: number,
    readonly height: number,
    readonly step = 1,
    private readonly kernel: StitchKernel | null = stitchKernel,
  ) {
    this.grid = gridFor(width, height, step);
    const cells = this.grid.gx.length * this.grid.gy.length;
    if (kernel) {
      this.acc = new Float32Array(0);
      this.at = kernel.openGrid(cells, this);
    } else this.acc = new Float32Array(cells);
  }

  /** Blends one tile map in. */
  add(t: TileMap): void {
    const { rect, map, map_width: mw, map_height: mh } = t;
    const fp = this.grid.footprint(rect, mw, mh);
    if (fp === null) return;
    this.added.push(fp);
    const gw = this.grid.gx.length;
    if (this.kernel) {
      if (this.at < 0) throw new Error("stitch accumulator used after finish or dispose");
      this.kernel.add(this.at, gw, map, mw, mh, fp);
      return;
    }
    const { acc } = this;
    const { cols, c0, u0, u1, wu0, wu1 } = fp;
    // Separable: interpolate every map row across the columns once (weighted by the column ramp),
    // then each output row is one weighted sum of two of those rows.
    if (this.grid.scratch.length < mh * cols) this.grid.scratch = new Float32Array(mh * cols);
    const rows = this.grid.scratch;
    for (let r = 0, m = 0, o = 0; r < mh; r++, m += mw, o += cols) {
      for (let i = 0; i < cols; i++) rows[o + i] = map[m + u0[i]] * wu0[i] + map[m + u1[i]] * wu1[i];
    }
    const { rowsOut, v0, v1, wv0, wv1 } = fp;
    for (let k = 0; k < rowsOut.length; k++) {
      const a = wv0[k], b = wv1[k];
      const r0 = v0[k] * cols, r1 = v1[k] * cols;
      const o = rowsOut[k] * gw + c0;
      for (let i = 0; i < cols; i++) acc[o + i] += rows[r0 + i] * a + rows[r1 + i] * b;
    }
  }

  /** The blended map; the accumulator must not be used afterwards. */
  finish(): RoiMap {
    const inv = this.grid.inverse(this.added);
    let data: Float32Array;
    if (this.kernel) {
      if (this.at < 0) throw new Error("stitch accumulator used after finish or dispose");
      data = this.kernel.read(this.at, inv, this);
      this.at = -1;
    } else {
      data = this.acc;
      for (let i = 0; i < data.length; i++) data[i] *= inv[i];
    }
    return { data, width: this.grid.gx.length, height: this.grid.gy.length, step: this.step, roi_width: this.width, roi_height: this.height };
  }

  /** Gives the accumulator up unfinished (its frame failed or was dropped). */
  dispose(): void {
    if (this.kernel && this.at >= 0) this.kernel.release(this.at, this);
    this.at = -1;
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
