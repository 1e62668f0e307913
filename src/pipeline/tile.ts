import type { Tiling } from "../config/schema.js";
import type { ModelManifest } from "../modelManifest.js";
import type { PixelFormat, RoiFrame, Tile, TileRect } from "../types.js";
import { halveBytes, halveWords, TILE_ALIGN } from "./halve.js";
import { SimdHalver } from "./halveSimd.js";

/**
 * Tile starts along one axis: first at 0, last flush with the end, evenly spread, overlap at least
 * `overlap`. All but the last sit on a multiple of TILE_ALIGN px (so a tile's rows start on a
 * 32-bit word, see halveWords); the spacing leaves room for that rounding.
 */
export function axisStarts(length: number, tile: number, overlap: number): number[] {
  if (length <= tile) return [0];
  const align = tile - overlap > TILE_ALIGN ? TILE_ALIGN : 1;
  const stride = tile - overlap - (align - 1);
  const n = Math.ceil((length - tile) / stride) + 1;
  const starts: number[] = [];
  for (let i = 0; i < n - 1; i++) starts.push(align * Math.floor((i * (length - tile)) / (n - 1) / align));
  starts.push(length - tile);
  return starts;
}

/**
 * Rectangles, in ROI pixels, of the tiles that cover a `width` x `height` ROI.
 * Grid tiles are always `tile` px square so every tile has the same scale; where the ROI is
 * smaller than a tile the rectangle reaches past it and sampling repeats the edge pixels.
 */
export function tilePlan(width: number, height: number, tiling: Tiling): TileRect[] {
  if (tiling.mode === "resize") return [{ x: 0, y: 0, width, height }];
  const rects: TileRect[] = [];
  for (const y of axisStarts(height, tiling.tile, tiling.overlap)) {
    for (const x of axisStarts(width, tiling.tile, tiling.overlap)) rects.push({ x, y, width: tiling.tile, height: tiling.tile });
  }
  return rects;
}

/** The WebAssembly SIMD path of 2:1 tiles, or null where the runtime lacks it (then halveWords). */
const simd = SimdHalver.create();

/** Input geometry and normalisation taken from the manifest. */
export type InputSpec = ModelManifest["input"];

/**
 * Samples one tile of an image into `out` (CHW float32, normalised), bilinearly, clamping at the
 * image's edges. `out` must hold channels * spec.height * spec.width values (it may be a view into
 * a batch buffer, so tiles are written straight where the model reads them). A 2:1 tile of an
 * image (also one reaching past its edges, as a ROI smaller than the tile gives) is reduced with
 * WebAssembly SIMD from a copy of the whole image made on its first tile, recognised by `img`
 * itself (and its `data`): an image's pixels must not change between its tiles, and the next
 * image must be a new object even when it comes in the same (pooled) buffer.
 */
export function sampleTile(
  img: { width: number; height: number; format: PixelFormat; data: Uint8Array },
  rect: TileRect,
  spec: InputSpec,
  out: Float32Array,
): void {
  const { width: W, height: H, data } = img;
  const ch = img.format === "RGB" ? 3 : 1;
  const mw = spec.width;
  const mh = spec.height;
  const plane = mw * mh;
  const sx = rect.width / mw;
  const sy = rect.height / mh;
  const k = spec.channels;
  // Per-channel affine: v = p * a[c] + b[c], from (p / scale - mean) / std.
  const a = [0, 0, 0], b = [0, 0, 0];
  for (let c = 0; c < k; c++) {
    a[c] = 1 / (spec.scale * spec.std[c]);
    b[c] = -spec.mean[c] / spec.std[c];
  }
  if (sx === 2 && sy === 2 && rect.x >= 0 && rect.y >= 0 && (ch === 1 || k === 3)) {
    // A 2:1 bilinear sample is the mean of 2 x 2 pixels; past the edge, of the repeated edge.
    const f = { a: a.map((v) => v / 4), b };
    if (simd && SimdHalver.fits(ch, k, mw)) return simd.halve(data, W, H, ch, rect, mw, mh, k, f, out, img);
    if (rect.x + rect.width <= W && rect.y + rect.height <= H) {
      if (!halveWords(data, W, ch, rect, mw, mh, k, f, out)) halveBytes(data, W, ch, rect, mw, mh, k, f, out);
      return;
    }
  }
  // Byte offsets of the two source columns of every output column, and the blend between them.
  const xo0 = new Int32Array(mw);
  const xo1 = new Int32Array(mw);
  const fx = new Float32Array(mw);
  for (let u = 0; u < mw; u++) {
    const gx = Math.min(Math.max(rect.x + (u + 0.5) * sx - 0.5, 0), W - 1);
    const x0 = Math.floor(gx);
    xo0[u] = x0 * ch;
    xo1[u] = Math.min(x0 + 1, W - 1) * ch;
    fx[u] = gx - x0;
  }
  const rowBytes = W * ch;
  for (let v = 0; v < mh; v++) {
    const gy = Math.min(Math.max(rect.y + (v + 0.5) * sy - 0.5, 0), H - 1);
    const y0 = Math.floor(gy);
    const fy = gy - y0;
    const r0 = y0 * rowBytes;
    const r1 = Math.min(y0 + 1, H - 1) * rowBytes;
    const o = v * mw;
    if (ch === 3 && k === 3) {
      const a0 = a[0], a1 = a[1], a2 = a[2], b0 = b[0], b1 = b[1], b2 = b[2];
      const o1 = o + plane, o2 = o + 2 * plane;
      for (let u = 0; u < mw; u++) {
        const wx = fx[u];
        const i00 = r0 + xo0[u], i01 = r0 + xo1[u], i10 = r1 + xo0[u], i11 = r1 + xo1[u];
        let t = data[i00] + (data[i01] - data[i00]) * wx;
        let q = data[i10] + (data[i11] - data[i10]) * wx;
        out[o + u] = (t + (q - t) * fy) * a0 + b0;
        t = data[i00 + 1] + (data[i01 + 1] - data[i00 + 1]) * wx;
        q = data[i10 + 1] + (data[i11 + 1] - data[i10 + 1]) * wx;
        out[o1 + u] = (t + (q - t) * fy) * a1 + b1;
        t = data[i00 + 2] + (data[i01 + 2] - data[i00 + 2]) * wx;
        q = data[i10 + 2] + (data[i11 + 2] - data[i10 + 2]) * wx;
        out[o2 + u] = (t + (q - t) * fy) * a2 + b2;
      }
      continue;
    }
    for (let u = 0; u < mw; u++) {
      const wx = fx[u];
      const i00 = r0 + xo0[u], i01 = r0 + xo1[u], i10 = r1 + xo0[u], i11 = r1 + xo1[u];
      let t = data[i00] + (data[i01] - data[i00]) * wx;
      let q = data[i10] + (data[i11] - data[i10]) * wx;
      let p = t + (q - t) * fy;
      if (ch === 1) {
        for (let c = 0; c < k; c++) out[c * plane + o + u] = p * a[c] + b[c];
        continue;
      }
      // One-channel model fed from RGB: ITU-R BT.601 luma.
      p *= 0.299;
      t = data[i00 + 1] + (data[i01 + 1] - data[i00 + 1]) * wx;
      q = data[i10 + 1] + (data[i11 + 1] - data[i10 + 1]) * wx;
      p += (t + (q - t) * fy) * 0.587;
      t = data[i00 + 2] + (data[i01 + 2] - data[i00 + 2]) * wx;
      q = data[i10 + 2] + (data[i11 + 2] - data[i10 + 2]) * wx;
      p += (t + (q - t) * fy) * 0.114;
      out[o + u] = p * a[0] + b[0];
    }
  }
}

/** Cuts one ROI frame into model inputs. */
export function makeTiles(frame: RoiFrame, tiling: Tiling, spec: InputSpec): Tile[] {
  const rects = tilePlan(frame.width, frame.height, tiling);
  const size = spec.channels * spec.height * spec.width;
  const key = frameKey(frame.camera, frame.seq);
  return rects.map((rect, index) => {
    const input = new Float32Array(size);
    sampleTile(frame, rect, spec, input);
    return { frame_key: key, index, count: rects.length, rect, input };
  });
}

/** The key tiles and maps of one frame share. */
export function frameKey(camera: string, seq: number): string {
  return `${camera}/${seq}`;
}
