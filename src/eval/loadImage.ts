/**
 * Decode an evaluation image to raw pixels. sharp has no BMP loader (libvips is built without
 * ImageMagick), and MVTec-style sets converted by some tools ship .bmp, so uncompressed BMP is
 * read here; everything else goes through sharp.
 */
import { open, readFile } from "node:fs/promises";
import sharp from "sharp";

/** Raw pixels of one image, rows tightly packed, top row first. */
export interface RawImage {
  /** width * height * channels bytes. */
  data: Uint8Array;
  /** Width, px. */
  width: number;
  /** Height, px. */
  height: number;
  /** 1 (grayscale) or 3 (RGB). */
  channels: 1 | 3;
}

/** An image that cannot be decoded. */
export class ImageDecodeError extends Error {
  /** The file. */
  readonly path: string;
  constructor(path: string, message: string) {
    super(`${path}: ${message}`);
    this.name = "ImageDecodeError";
    this.path = path;
  }
}

function isBmp(path: string): boolean {
  return path.toLowerCase().endsWith(".bmp");
}

/**
 * Width and height of an image from its header only, px.
 * @param path PNG, JPEG or BMP file
 */
export async function imageSize(path: string): Promise<{ width: number; height: number }> {
  if (isBmp(path)) {
    const fh = await open(path, "r");
    try {
      const head = Buffer.alloc(26);
      await fh.read(head, 0, 26, 0);
      return bmpHeader(path, head);
    } finally {
      await fh.close();
    }
  }
  const meta = await sharp(path).metadata();
  if (meta.width === undefined || meta.height === undefined) {
    throw new ImageDecodeError(path, "no size in header");
  }
  return { width: meta.width, height: meta.height };
}

/**
 * Decode an image: grayscale files stay 1 channel, colour files become RGB (alpha dropped).
 * @param path PNG, JPEG or (uncompressed 8/24/32-bit) BMP file
 */
export async function loadImage(path: string): Promise<RawImage> {
  if (isBmp(path)) return decodeBmp(path, await readFile(path));
  const img = sharp(path);
  const meta = await img.metadata();
  const gray = meta.space === "b-w" || (meta.channels ?? 3) <= 2;
  const out = gray
    ? await img.extractChannel(0).raw().toBuffer({ resolveWithObject: true })
    : await img.removeAlpha().toColourspace("srgb").raw().toBuffer({ resolveWithObject: true });
  const channels = out.info.channels === 1 ? 1 : 3;
  return { data: new Uint8Array(out.data), width: out.info.width, height: out.info.height, channels };
}

function bmpHeader(path: string, b: Buffer): { width: number; height: number } {
  if (b.length < 26 || b.toString("latin1", 0, 2) !== "BM") throw new ImageDecodeError(path, "not a BMP file");
  return { width: b.readInt32LE(18), height: Math.abs(b.readInt32LE(22)) };
}

function decodeBmp(path: string, b: Buffer): RawImage {
  const { width, height } = bmpHeader(path, b);
  const dataOffset = b.readUInt32LE(10);
  const headerSize = b.readUInt32LE(14);
  const topDown = b.readInt32LE(22) < 0;
  const bpp = b.readUInt16LE(28);
  const compression = b.readUInt32LE(30);
  // BI_RGB (0) only; BI_BITFIELDS (3) with 32 bpp is laid out as BGRA in practice.
  if (compression !== 0 && !(compression === 3 && bpp === 32)) {
    throw new ImageDecodeError(path, `compressed BMP (compression ${compression}) is not supported`);
  }
  if (bpp !== 8 && bpp !== 24 && bpp !== 32) throw new ImageDecodeError(path, `${bpp}-bit BMP is not supported`);
  const rowBytes = Math.ceil((width * bpp) / 32) * 4;
  if (dataOffset + rowBytes * height > b.length) throw new ImageDecodeError(path, "truncated BMP");
  let palette: Buffer | null = null;
  let grayPalette = false;
  if (bpp === 8) {
    const colours = b.readUInt32LE(46) || 256;
    palette = b.subarray(14 + headerSize, 14 + headerSize + colours * 4);
    grayPalette = true;
    for (let i = 0; i < colours; i++) {
      const o = i * 4;
      if (palette[o] !== palette[o + 1] || palette[o] !== palette[o + 2]) grayPalette = false;
    }
  }
  const channels: 1 | 3 = grayPalette ? 1 : 3;
  const data = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    const src = dataOffset + (topDown ? y : height - 1 - y) * rowBytes;
    for (let x = 0; x < width; x++) {
      const d = (y * width + x) * channels;
      if (palette !== null) {
        const p = b[src + x] * 4;
        if (channels === 1) data[d] = palette[p];
        else [data[d], data[d + 1], data[d + 2]] = [palette[p + 2], palette[p + 1], palette[p]];
      } else {
        const s = src + x * (bpp / 8);
        data[d] = b[s + 2];
        data[d + 1] = b[s + 1];
        data[d + 2] = b[s];
      }
    }
  }
  return { data, width, height, channels };
}
