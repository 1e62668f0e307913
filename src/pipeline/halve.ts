import { endianness } from "node:os";
import type { TileRect } from "../types.js";

/** Per-channel affine of a model input: value = byte sum * a[c] + b[c] (a already divided by 4). */
export interface Affine {
  a: readonly number[];
  b: readonly number[];
}

/**
 * Tile starts are placed on multiples of this many pixels (see axisStarts) so that, in an image
 * whose rows are a whole number of 32-bit words, a tile's rows start on a word.
 */
export const TILE_ALIGN = 4;

const littleEndian = endianness() === "LE";

/**
 * 2:1 reduction of a tile (a `2*mw` x `2*mh` rect inside the image) into CHW float32 `out`: each
 * output value is the mean of a 2x2 block, which is exactly the bilinear sample at its centre.
 * Reads the bytes four at a time as 32-bit words and adds them as 16-bit lanes (two per word),
 * about twice as fast as byte reads. Returns false, writing nothing, when the rows do not start on
 * a word or the layout has no word path (one-channel model fed from RGB); use halveBytes then.
 */
export function halveWords(data: Uint8Array, W: number, ch: number, rect: TileRect, mw: number, mh: number, k: number, f: Affine, out: Float32Array): boolean {
  const rowBytes = W * ch;
  const start = data.byteOffset + (rect.y * W + rect.x) * ch;
  if (!littleEndian || rowBytes % 4 || start % 4 || mw % 2 || (ch === 3 && k !== 3)) return false;
  const words = new Uint32Array(data.buffer, data.byteOffset & ~3, (data.byteOffset % 4 + data.byteLength) >>> 2);
  const rowWords = rowBytes >>> 2;
  const first = (start - (data.byteOffset & ~3)) >>> 2;
  const plane = mw * mh;
  const o1 = plane, o2 = 2 * plane;
  const a0 = f.a[0], b0 = f.b[0];
  const a1 = f.a[k > 1 ? 1 : 0], b1 = f.b[k > 1 ? 1 : 0];
  const a2 = f.a[k > 2 ? 2 : 0], b2 = f.b[k > 2 ? 2 : 0];
  const M = 0x00ff00ff;
  for (let v = 0; v < mh; v++) {
    let w0 = first + 2 * v * rowWords;
    let w1 = w0 + rowWords;
    let o = v * mw;
    if (ch === 3) {
      // Four RGB pixels are three words per row: R0 G0 B0 R1 | G1 B1 R2 G2 | B2 R3 G3 B3. The even
      // and odd bytes of each word, summed over the two rows, sit in two 16-bit lanes.
      for (let u = 0; u < mw; u += 2, w0 += 3, w1 += 3, o += 2) {
        const A = words[w0], B = words[w0 + 1], C = words[w0 + 2];
        const D = words[w1], E = words[w1 + 1], F = words[w1 + 2];
        const ae = (A & M) + (D & M), ao = ((A >>> 8) & M) + ((D >>> 8) & M); // R0 B0 | G0 R1
        const be = (B & M) + (E & M), bo = ((B >>> 8) & M) + ((E >>> 8) & M); // G1 R2 | B1 G2
        const ce = (C & M) + (F & M), co = ((C >>> 8) & M) + ((F >>> 8) & M); // B2 G3 | R3 B3
        out[o] = ((ae & 0xffff) + (ao >>> 16)) * a0 + b0;
        out[o1 + o] = ((ao & 0xffff) + (be & 0xffff)) * a1 + b1;
        out[o2 + o] = ((ae >>> 16) + (bo & 0xffff)) * a2 + b2;
        out[o + 1] = ((be >>> 16) + (co & 0xffff)) * a0 + b0;
        out[o1 + o + 1] = ((bo >>> 16) + (ce >>> 16)) * a1 + b1;
        out[o2 + o + 1] = ((ce & 0xffff) + (co >>> 16)) * a2 + b2;
      }
      continue;
    }
    // One channel: a word is four pixels; p0+p1 and p2+p3 of both rows land in the two lanes.
    for (let u = 0; u < mw; u += 2, w0++, w1++, o += 2) {
      const A = words[w0], D = words[w1];
      const s = (A & M) + ((A >>> 8) & M) + (D & M) + ((D >>> 8) & M);
      const p = s & 0xffff, q = s >>> 16;
      out[o] = p * a0 + b0;
      out[o + 1] = q * a0 + b0;
      if (k === 3) {
        out[o1 + o] = p * a1 + b1;
        out[o1 + o + 1] = q * a1 + b1;
        out[o2 + o] = p * a2 + b2;
        out[o2 + o + 1] = q * a2 + b2;
      }
    }
  }
  return true;
}

/** halveWords() reading byte by byte: any alignment. */
export function halveBytes(data: Uint8Array, W: number, ch: number, rect: TileRect, mw: number, mh: number, k: number, f: Affine, out: Float32Array): void {
  const plane = mw * mh;
  const rowBytes = W * ch;
  const { a, b } = f;
  for (let v = 0; v < mh; v++) {
    let r0 = (rect.y + 2 * v) * rowBytes + rect.x * ch;
    let r1 = r0 + rowBytes;
    const o = v * mw;
    if (ch === 3) {
      const a0 = a[0], a1 = a[1], a2 = a[2], b0 = b[0], b1 = b[1], b2 = b[2];
      const o1 = o + plane, o2 = o + 2 * plane;
      for (let u = 0; u < mw; u++, r0 += 6, r1 += 6) {
        out[o + u] = (data[r0] + data[r0 + 3] + data[r1] + data[r1 + 3]) * a0 + b0;
        out[o1 + u] = (data[r0 + 1] + data[r0 + 4] + data[r1 + 1] + data[r1 + 4]) * a1 + b1;
        out[o2 + u] = (data[r0 + 2] + data[r0 + 5] + data[r1 + 2] + data[r1 + 5]) * a2 + b2;
      }
      continue;
    }
    if (k === 3) {
      const a0 = a[0], a1 = a[1], a2 = a[2], b0 = b[0], b1 = b[1], b2 = b[2];
      const o1 = o + plane, o2 = o + 2 * plane;
      for (let u = 0; u < mw; u++, r0 += 2, r1 += 2) {
        const p = data[r0] + data[r0 + 1] + data[r1] + data[r1 + 1];
        out[o + u] = p * a0 + b0;
        out[o1 + u] = p * a1 + b1;
        out[o2 + u] = p * a2 + b2;
      }
      continue;
    }
    const a0 = a[0], b0 = b[0];
    for (let u = 0; u < mw; u++, r0 += 2, r1 += 2) out[o + u] = (data[r0] + data[r0 + 1] + data[r1] + data[r1 + 1]) * a0 + b0;
  }
}
