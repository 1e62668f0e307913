/**
 * The arithmetic of a few-shot memory bank, on plain typed arrays: thinning a bank with a greedy
 * coreset, calibrating nearest-neighbour distances from leave-one-part-out distances, and fusing a
 * distance map with the model's map. It runs in the inference worker (inferWorker.ts), which does
 * the nearest-neighbour searches themselves with models/nn-distance.onnx; nothing here imports
 * onnxruntime-node, so it is testable on its own.
 */
import { resizeBilinear } from "./resize.js";

/** Nearest-neighbour distances of `queries` (n x dim rows) to the bank rows `bank` (m x dim). */
export type NearestFn = (queries: Float32Array, n: number, bank: Float32Array, m: number, dim: number) => Promise<Float32Array>;

/** The arrays one after another in one array. */
export function concat(arrays: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(arrays.reduce((a, b) => a + b.length, 0));
  let o = 0;
  for (const a of arrays) {
    out.set(a, o);
    o += a.length;
  }
  return out;
}

/**
 * Greedy k-center coreset (PatchCore): indices of at most `max` rows of `rows` (n x dim) such that
 * every row is close to one of them. Deterministic: starts from row 0. Cost max x n x dim.
 */
export function greedyCoreset(rows: Float32Array, n: number, dim: number, max: number): Int32Array {
  if (n <= max) return Int32Array.from({ length: n }, (_, i) => i);
  const picked = new Int32Array(max);
  const minSq = new Float32Array(n).fill(Infinity);
  let next = 0;
  for (let k = 0; k < max; k++) {
    picked[k] = next;
    const c = next * dim;
    let best = -1;
    let bestSq = -1;
    for (let j = 0; j < n; j++) {
      const r = j * dim;
      let s = 0;
      for (let d = 0; d < dim; d++) {
        const v = rows[r + d] - rows[c + d];
        s += v * v;
      }
      if (s < minSq[j]) minSq[j] = s;
      if (minSq[j] > bestSq) {
        bestSq = minSq[j];
        best = j;
      }
    }
    next = best;
  }
  return picked;
}

/** The rows at `idx` of `rows` (n x dim), packed. */
export function pickRows(rows: Float32Array, idx: ArrayLike<number>, dim: number): Float32Array {
  const out = new Float32Array(idx.length * dim);
  for (let i = 0; i < idx.length; i++) out.set(rows.subarray(idx[i] * dim, (idx[i] + 1) * dim), i * dim);
  return out;
}

/** The value at quantile q (0..1) of `values`, by sorting a copy. */
export function quantile(values: Float32Array, q: number): number {
  const s = Float32Array.from(values).sort();
  return s.length ? s[Math.min(s.length - 1, Math.max(0, Math.round(q * (s.length - 1))))] : 0;
}

/**
 * Builds a bank from parts (the patch features of each good image, or of each half of a single
 * image) and calibrates it: every part's patches are searched in the bank without that part's own
 * patches, so the distances are those of a good part the bank has not seen. As for the model's map
 * (training/export.py): offset = median distance, scale = 99.9th percentile - offset, so 1.0 means
 * the same rarity on good parts in both maps and the model's thresholds keep their meaning.
 */
export async function buildBank(parts: readonly Float32Array[], dim: number, max: number, nearest: NearestFn) {
  const sizes = parts.map((p) => p.length / dim);
  const n = sizes.reduce((a, b) => a + b, 0);
  const all = new Float32Array(n * dim);
  const owner = new Int32Array(n);
  let at = 0;
  parts.forEach((p, i) => {
    all.set(p, at * dim);
    owner.fill(i, at, at + sizes[i]);
    at += sizes[i];
  });
  const idx = greedyCoreset(all, n, dim, max);
  const features = pickRows(all, idx, dim);
  const loo: Float32Array[] = [];
  for (let i = 0; i < parts.length; i++) {
    const others = Array.from(idx).filter((j) => owner[j] !== i);
    if (others.length === 0 || sizes[i] === 0) continue;
    loo.push(await nearest(parts[i], sizes[i], pickRows(all, others, dim), others.length, dim));
  }
  const d = concat(loo);
  if (d.length === 0) throw new RangeError("a feature bank needs at least two parts to calibrate");
  const offset = quantile(d, 0.5);
  const scale = Math.max(quantile(d, 0.999) - offset, 1e-6);
  return { features, count: idx.length, calibration: { offset, scale } };
}

/**
 * Fuses a distance map (fh x fw, raw distances) into a calibrated model map (mh x mw) in place:
 * the distances are calibrated, resized bilinearly (half-pixel centres, as ONNX Resize and torch's
 * align_corners=False), and combined: max of the two when weight is 1, else the weighted sum.
 */
export function fuseDistances(
  map: Float32Array,
  mh: number,
  mw: number,
  dist: Float32Array,
  fh: number,
  fw: number,
  calibration: { offset: number; scale: number },
  weight: number,
): void {
  const inv = 1 / calibration.scale;
  const off = calibration.offset;
  const d = resizeBilinear(dist, fw, fh, mw, mh);
  for (let i = 0; i < map.length && i < d.length; i++) {
    const c = (d[i] - off) * inv;
    map[i] = weight >= 1 ? Math.max(map[i], c) : weight * c + (1 - weight) * map[i];
  }
}
