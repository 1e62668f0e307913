import type { Region } from "../types.js";

/**
 * Connected regions (8-connectivity) of a binary mask, with their bounding box, area, centroid,
 * elongation (ratio of the principal axes' standard deviations, >= 1) and mean score.
 * Regions come largest first.
 */
export function findRegions(mask: Uint8Array, map: Float32Array, width: number, height: number): Region[] {
  const labels = new Int32Array(width * height);
  const stack = new Int32Array(width * height);
  const total = width * height;
  const regions: Region[] = [];
  let next = 0;
  for (let start = 0; start < total; start++) {
    if (!mask[start] || labels[start]) continue;
    next++;
    let sp = 0;
    stack[sp++] = start;
    labels[start] = next;
    let n = 0, sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0, ss = 0;
    let minX = width, minY = height, maxX = 0, maxY = 0;
    while (sp > 0) {
      const p = stack[--sp];
      const x = p % width;
      const y = (p - x) / width;
      n++; sx += x; sy += y; sxx += x * x; syy += y * y; sxy += x * y; ss += map[p];
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (y < minY) minY = y;
      if (y > maxY) maxY = y;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= width) continue;
          const q = yy * width + xx;
          if (mask[q] && !labels[q]) {
            labels[q] = next;
            stack[sp++] = q;
          }
        }
      }
    }
    const cx = sx / n, cy = sy / n;
    // Second central moments, plus 1/12 for a pixel's own extent so single pixels are round.
    const vxx = sxx / n - cx * cx + 1 / 12;
    const vyy = syy / n - cy * cy + 1 / 12;
    const vxy = sxy / n - cx * cy;
    const tr = vxx + vyy;
    const disc = Math.sqrt(Math.max(0, ((vxx - vyy) / 2) ** 2 + vxy * vxy));
    const l1 = tr / 2 + disc, l2 = Math.max(tr / 2 - disc, 1e-9);
    regions.push({
      x: minX, y: minY, width: maxX - minX + 1, height: maxY - minY + 1,
      area_px: n,
      area_pct: (100 * n) / total,
      elongation: Math.sqrt(l1 / l2),
      mean_score: ss / n,
      cx, cy,
    });
  }
  return regions.sort((a, b) => b.area_px - a.area_px);
}
