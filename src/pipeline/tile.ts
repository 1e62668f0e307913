import type { Tiling } from "../config/schema.js";
import type { ModelManifest } from "../modelManifest.js";
import type { PixelFormat, RoiFrame, Tile, TileRect } from "../types.js";

/** Tile starts along one axis: first at 0, last flush with the end, evenly spread, overlap at least `overlap`. */
export function axisStarts(length: number, tile: number, overlap: number): number[] {
  if (length <= tile) return [0];
  const stride = tile - overlap;
  const n = Math.ceil((length - tile) / stride) + 1;
  const starts: number[] = [];
  for (let i = 0; i < n; i++) starts.push(Math.round((i * (length - tile)) / (n - 1)));
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

/** Input geometry and normalisation taken from the manifest. */
export type InputSpec = ModelManifest["input"];

/**
 * Samples one tile of an image into `out` (CHW float32, normalised), bilinearly, clamping at the
 * image's edges. `out` must hold channels * spec.height * spec.width values.
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
  const a = new Float32Array(3);
  const b = new Float32Array(3);
  for (let c = 0; c < k; c++) {
    a[c] = 1 / (spec.scale * spec.std[c]);
    b[c] = -spec.mean[c] / spec.std[c];
  }
  const xs0 = new Int32Array(mw);
  const xs1 = new Int32Array(mw);
  const fx = new Float32Array(mw);
  for (let u = 0; u < mw; u++) {
    const gx = Math.min(Math.max(rect.x + (u + 0.5) * sx - 0.5, 0), W - 1);
    xs0[u] = Math.floor(gx);
    xs1[u] = Math.min(xs0[u] + 1, W - 1);
    fx[u] = gx - xs0[u];
  }
  for (let v = 0; v < mh; v++) {
    const gy = Math.min(Math.max(rect.y + (v + 0.5) * sy - 0.5, 0), H - 1);
    const y0 = Math.floor(gy);
    const y1 = Math.min(y0 + 1, H - 1);
    const fy = gy - y0;
    const r0 = y0 * W;
    const r1 = y1 * W;
    const o = v * mw;
    for (let u = 0; u < mw; u++) {
      const x0 = xs0[u], x1 = xs1[u], wx = fx[u];
      const w00 = (1 - wx) * (1 - fy), w01 = wx * (1 - fy), w10 = (1 - wx) * fy, w11 = wx * fy;
      if (ch === 1) {
        const p = data[r0 + x0] * w00 + data[r0 + x1] * w01 + data[r1 + x0] * w10 + data[r1 + x1] * w11;
        for (let c = 0; c < k; c++) out[c * plane + o + u] = p * a[c] + b[c];
      } else {
        const i00 = (r0 + x0) * 3, i01 = (r0 + x1) * 3, i10 = (r1 + x0) * 3, i11 = (r1 + x1) * 3;
        if (k === 3) {
          for (let c = 0; c < 3; c++) {
            const p = data[i00 + c] * w00 + data[i01 + c] * w01 + data[i10 + c] * w10 + data[i11 + c] * w11;
            out[c * plane + o + u] = p * a[c] + b[c];
          }
        } else {
          // One-channel model fed from RGB: ITU-R BT.601 luma.
          let p = 0;
          for (let c = 0; c < 3; c++) p += (data[i00 + c] * w00 + data[i01 + c] * w01 + data[i10 + c] * w10 + data[i11 + c] * w11) * (c === 0 ? 0.299 : c === 1 ? 0.587 : 0.114);
          out[o + u] = p * a[0] + b[0];
        }
      }
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
