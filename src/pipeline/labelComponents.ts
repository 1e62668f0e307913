/** Connected components of a binary mask. */

/** Components of one mask. */
export interface Components {
  /** Per pixel: 0 = background, 1..count = the component it belongs to. */
  labels: Int32Array;
  /** Number of components. */
  count: number;
  /** Pixels per component; sizes[c - 1] belongs to label c. */
  sizes: number[];
}

/**
 * Label the connected regions of a mask with 8-connectivity (diagonal neighbours join),
 * as the MVTec AD evaluation labels its truth regions for PRO and as the daemon finds defect regions.
 * @param mask width * height values, non-zero = foreground
 */
export function labelComponents(mask: Uint8Array, width: number, height: number): Components {
  if (mask.length !== width * height) throw new RangeError(`mask has ${mask.length} values, not ${width}x${height}`);
  const labels = new Int32Array(mask.length);
  const sizes: number[] = [];
  const stack = new Int32Array(mask.length);
  let count = 0;
  for (let start = 0; start < mask.length; start++) {
    if (mask[start] === 0 || labels[start] !== 0) continue;
    const label = ++count;
    let size = 0;
    let top = 0;
    stack[top++] = start;
    labels[start] = label;
    while (top > 0) {
      const p = stack[--top];
      size++;
      const px = p % width;
      const py = (p - px) / width;
      for (let dy = -1; dy <= 1; dy++) {
        const y = py + dy;
        if (y < 0 || y >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const x = px + dx;
          if (x < 0 || x >= width) continue;
          const q = y * width + x;
          if (mask[q] !== 0 && labels[q] === 0) {
            labels[q] = label;
            stack[top++] = q;
          }
        }
      }
    }
    sizes.push(size);
  }
  return { labels, count, sizes };
}
