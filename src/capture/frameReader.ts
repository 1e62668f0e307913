import type { PixelFormat } from "../types.js";
import type { SampleCaps } from "./gst.js";

/** Tightly packed pixels of one sample. */
export interface Pixels {
  width: number;
  height: number;
  format: PixelFormat;
  /** width * height * channels bytes, rows without padding. */
  data: Uint8Array;
}

const CHANNELS: Record<PixelFormat, number> = { RGB: 3, GRAY8: 1 };

function isPixelFormat(f: unknown): f is PixelFormat {
  return f === "RGB" || f === "GRAY8";
}

/**
 * The pixels of an appsink sample, rows unpadded, or the reason the sample is unusable.
 * GStreamer pads each row of RGB and GRAY8 to a multiple of 4 bytes (a 190 px RGB row is 572
 * bytes, not 570); the padding is cut here, in place (rows move to the front of `buf`, which the
 * result's `data` then views: the sample's buffer is capture's own). A buffer of neither the
 * padded nor the tight size, an empty one, or caps without size or with another format is refused.
 */
export function readPixels(buf: Buffer, caps: SampleCaps): Pixels | string {
  const { width, height, format } = caps;
  if (!isPixelFormat(format)) return `unsupported pixel format ${String(format)}`;
  if (typeof width !== "number" || typeof height !== "number" || width < 1 || height < 1) {
    return `caps without a frame size (${String(width)}x${String(height)})`;
  }
  const row = width * CHANNELS[format];
  const stride = (row + 3) & ~3;
  if (buf.length === row * height) {
    return { width, height, format, data: new Uint8Array(buf.buffer, buf.byteOffset, buf.length) };
  }
  if (buf.length !== stride * height) {
    return `buffer of ${buf.length} bytes does not hold a ${width}x${height} ${format} frame (${stride * height} expected)`;
  }
  // Each row moves to or before where it was, so copying front to back never reads a moved row.
  for (let y = 1; y < height; y++) buf.copyWithin(y * row, y * stride, y * stride + row);
  return { width, height, format, data: new Uint8Array(buf.buffer, buf.byteOffset, row * height) };
}
