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
 * as the MVTec AD evaluation labels its truth regions for PRO (the daemon's regions join the same way).
 * Components are numbered in the raster order of their first pixel.
 *
 * Two raster passes with union-find over provisional labels (each pixel looks at its four
 * neighbours already visited), in about a third of the time of
 * the flood fill it replaced (0.26 against 0.75-0.9 ms for a 160 x 120 mask nine-tenths set, on
 * this project's 2-core box). The evaluation labels every truth mask with it; the daemon
 * measures its masks' regions on runs instead (regions.ts), faster again for sparse masks.
 * @param mask width * height values, non-zero = foreground
 */
export function labelComponents(mask: Uint8Array, width: number, height: number): Components {
  if (mask.length !== width * height) throw new RangeError(`mask has ${mask.length} values, not ${width}x${height}`);
  const labels = new Int32Array(mask.length);
  // A provisional label starts only where the left neighbour is background: at most ceil(w/2) a row.
  const parent = new Int32Array(((width + 1) >> 1) * height + 1);
  let next = 1;
  const find = (x: number): number => {
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]];
      x = parent[x];
    }
    return x;
  };
  // The smaller root wins, so a component's root is its first provisional label.
  const join = (a: number, b: number): number => {
    if (a === b) return a;
    a = find(a);
    b = find(b);
    if (a < b) {
      parent[b] = a;
      return a;
    }
    parent[a] = b;
    return b;
  };
  // Which visited neighbours need a union: one that touches N already touches W, NW and NE (each
  // was joined to N when it was labelled); without N, W touches NW but not NE (Wu, Otoo and
  // Suzuki's decision tree, "Optimizing two-pass connected-component labeling algorithms", 2009).
  for (let y = 0, p = 0; y < height; y++) {
    for (let x = 0; x < width; x++, p++) {
      if (mask[p] === 0) continue;
      const q = p - width;
      const nw = y > 0 && x > 0 ? labels[q - 1] : 0;
      const n = y > 0 ? labels[q] : 0;
      const ne = y > 0 && x + 1 < width ? labels[q + 1] : 0;
      const w = x > 0 ? labels[p - 1] : 0;
      let l: number;
      if (n !== 0) l = n;
      else if (w !== 0) l = ne !== 0 ? join(w, ne) : w;
      else if (nw !== 0) l = ne !== 0 ? join(nw, ne) : nw;
      else if (ne !== 0) l = ne;
      else {
        parent[next] = next;
        l = next++;
      }
      labels[p] = l;
    }
  }
  // Final numbers: roots in order of their provisional label, which is raster order of first pixels.
  const final = new Int32Array(next);
  let count = 0;
  for (let i = 1; i < next; i++) final[i] = find(i) === i ? ++count : 0;
  for (let i = 1; i < next; i++) if (final[i] === 0) final[i] = final[find(i)];
  const sizes: number[] = new Array<number>(count).fill(0);
  for (let p = 0; p < labels.length; p++) {
    const l = labels[p];
    if (l === 0) continue;
    const f = final[l];
    labels[p] = f;
    sizes[f - 1]++;
  }
  return { labels, count, sizes };
}
