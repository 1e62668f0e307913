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
 * Joins the tile maps of one frame into one map of `width` x `height` (ROI pixels): each tile's
 * map is resized bilinearly onto its rectangle and overlaps are blended with edge-tapered weights.
 */
export function stitchMaps(tiles: readonly TileMap[], width: number, height: number): Float32Array {
  const acc = new Float32Array(width * height);
  const wsum = new Float32Array(width * height);
  for (const t of tiles) {
    const { rect, map, map_width: mw, map_height: mh } = t;
    const x0 = Math.max(0, rect.x);
    const y0 = Math.max(0, rect.y);
    const x1 = Math.min(width, rect.x + rect.width);
    const y1 = Math.min(height, rect.y + rect.height);
    const sx = mw / rect.width;
    const sy = mh / rect.height;
    const cols = x1 - x0;
    const u0 = new Int32Array(cols), u1 = new Int32Array(cols);
    const fu = new Float32Array(cols), wu = new Float32Array(cols);
    for (let i = 0; i < cols; i++) {
      const dx = x0 + i - rect.x;
      const u = Math.min(Math.max((dx + 0.5) * sx - 0.5, 0), mw - 1);
      u0[i] = Math.floor(u);
      u1[i] = Math.min(u0[i] + 1, mw - 1);
      fu[i] = u - u0[i];
      wu[i] = ramp(dx, rect.width);
    }
    for (let py = y0; py < y1; py++) {
      const dy = py - rect.y;
      const v = Math.min(Math.max((dy + 0.5) * sy - 0.5, 0), mh - 1);
      const v0 = Math.floor(v);
      const v1 = Math.min(v0 + 1, mh - 1);
      const fv = v - v0;
      const wv = ramp(dy, rect.height);
      const r0 = v0 * mw, r1 = v1 * mw;
      let o = py * width + x0;
      for (let i = 0; i < cols; i++, o++) {
        const a = map[r0 + u0[i]] * (1 - fu[i]) + map[r0 + u1[i]] * fu[i];
        const b = map[r1 + u0[i]] * (1 - fu[i]) + map[r1 + u1[i]] * fu[i];
        const w = wu[i] * wv;
        acc[o] += (a * (1 - fv) + b * fv) * w;
        wsum[o] += w;
      }
    }
  }
  for (let i = 0; i < acc.length; i++) acc[i] = wsum[i] > 0 ? acc[i] / wsum[i] : 0;
  return acc;
}
