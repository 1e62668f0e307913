import type { Region } from "../types.js";
import { labelComponents } from "./labelComponents.js";
import { cellCentre, cellSize, type RoiMap } from "./roiMap.js";

/**
 * Connected regions (8-connectivity) of a binary mask over the cells of `map`, in ROI pixels: their
 * bounding box, area, centroid, elongation (ratio of the principal axes' standard deviations,
 * >= 1) and mean score. Each cell counts for the pixels it covers, with the moments those pixels
 * have, so the figures are those of the mask drawn at ROI resolution cell by cell. Regions come
 * largest first.
 */
export function findRegions(mask: Uint8Array, map: RoiMap): Region[] {
  const { width, height, step, roi_width: W, roi_height: H, data } = map;
  const { labels, count } = labelComponents(mask, width, height);
  if (count === 0) return [];
  // Per-label pixel moments in one pass over the cells.
  const n = new Float64Array(count), sx = new Float64Array(count), sy = new Float64Array(count);
  const sxx = new Float64Array(count), syy = new Float64Array(count), sxy = new Float64Array(count), ss = new Float64Array(count);
  const minX = new Int32Array(count).fill(width), minY = new Int32Array(count).fill(height);
  const maxX = new Int32Array(count), maxY = new Int32Array(count);
  // Per column: centre, width and the second moment of its pixels about 0 (a run of c pixels
  // centred on m has sum m*c and sum of squares c*(m^2 + (c^2 - 1)/12)).
  const colX = new Float64Array(width), colW = new Float64Array(width), colXX = new Float64Array(width);
  for (let i = 0; i < width; i++) {
    const cx = cellCentre(i, step, W), cw = cellSize(i, step, W);
    colX[i] = cx;
    colW[i] = cw;
    colXX[i] = cx * cx + (cw * cw - 1) / 12;
  }
  for (let j = 0, p = 0; j < height; j++) {
    const cy = cellCentre(j, step, H), ch = cellSize(j, step, H);
    const cyy = cy * cy + (ch * ch - 1) / 12;
    for (let i = 0; i < width; i++, p++) {
      const l = labels[p] - 1;
      if (l < 0) continue;
      const cx = colX[i];
      const a = colW[i] * ch;
      n[l] += a; sx[l] += a * cx; sy[l] += a * cy;
      sxx[l] += a * colXX[i]; syy[l] += a * cyy; sxy[l] += a * cx * cy;
      ss[l] += a * data[p];
      if (i < minX[l]) minX[l] = i;
      if (i > maxX[l]) maxX[l] = i;
      if (j < minY[l]) minY[l] = j;
      if (j > maxY[l]) maxY[l] = j;
    }
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
