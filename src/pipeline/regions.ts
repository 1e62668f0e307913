import type { Region } from "../types.js";
import { labelComponents } from "./labelComponents.js";

/**
 * Connected regions (8-connectivity) of a binary mask, with their bounding box, area, centroid,
 * elongation (ratio of the principal axes' standard deviations, >= 1) and mean score.
 * Regions come largest first.
 */
export function findRegions(mask: Uint8Array, map: Float32Array, width: number, height: number): Region[] {
  const { labels, count } = labelComponents(mask, width, height);
  if (count === 0) return [];
  // Per-label moments in one pass over the pixels.
  const n = new Float64Array(count), sx = new Float64Array(count), sy = new Float64Array(count);
  const sxx = new Float64Array(count), syy = new Float64Array(count), sxy = new Float64Array(count), ss = new Float64Array(count);
  const minX = new Int32Array(count).fill(width), minY = new Int32Array(count).fill(height);
  const maxX = new Int32Array(count), maxY = new Int32Array(count);
  for (let y = 0, p = 0; y < height; y++) {
    for (let x = 0; x < width; x++, p++) {
      const l = labels[p] - 1;
      if (l < 0) continue;
      n[l]++; sx[l] += x; sy[l] += y; sxx[l] += x * x; syy[l] += y * y; sxy[l] += x * y; ss[l] += map[p];
      if (x < minX[l]) minX[l] = x;
      if (x > maxX[l]) maxX[l] = x;
      if (y < minY[l]) minY[l] = y;
      if (y > maxY[l]) maxY[l] = y;
    }
  }
  const total = width * height;
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
    regions.push({
      x: minX[l], y: minY[l], width: maxX[l] - minX[l] + 1, height: maxY[l] - minY[l] + 1,
      area_px: n[l],
      area_pct: (100 * n[l]) / total,
      elongation: Math.sqrt(l1 / l2),
      mean_score: ss[l] / n[l],
      cx, cy,
    });
  }
  return regions.sort((a, b) => b.area_px - a.area_px);
}
