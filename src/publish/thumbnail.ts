import sharp from "sharp";
import type { Decision, PixelFormat, Region } from "../types.js";

/** Thumbnail settings (the `mqtt.thumbnail` config section). */
export interface ThumbnailOptions {
  enabled: boolean;
  /** Output width, px; the height keeps the ROI's aspect. */
  width: number;
  /** At most one thumbnail per camera per this many ms. */
  interval_ms: number;
  /** JPEG quality, 1..100. */
  quality: number;
}

/** What {@link renderThumbnail} draws. */
export interface ThumbnailInput {
  image: { width: number; height: number; format: PixelFormat; data: Uint8Array };
  /** Binary mask at image resolution, 1 = defect. */
  mask: Uint8Array;
  regions: readonly Region[];
}

/** Counters of a {@link ThumbnailRenderer}. */
export interface ThumbnailStats {
  rendered: number;
  /** Not rendered: within interval_ms of the camera's last one, or its previous one still rendering. */
  skipped: number;
  errors: number;
}

const FILL: readonly [number, number, number] = [255, 32, 32];
const FILL_ALPHA = 0.4;
const BOX: readonly [number, number, number] = [255, 214, 0];

/**
 * JPEG of the image resized to `width`, with the mask drawn over it (translucent red fill,
 * solid red outline) and a yellow box around each region. The resizing runs in libvips's
 * thread pool; JavaScript only touches the mask once and the small output.
 */
export async function renderThumbnail(input: ThumbnailInput, width: number, quality: number): Promise<Buffer> {
  const { image, mask, regions } = input;
  const w = Math.max(1, Math.round(width));
  const h = Math.max(1, Math.round((image.height * w) / image.width));
  const channels = image.format === "GRAY8" ? 1 : 3;
  const raw = { width: image.width, height: image.height, channels } as const;
  const mask255 = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) if (mask[i]) mask255[i] = 255;
  const [rgb, small] = await Promise.all([
    sharp(image.data, { raw }).resize(w, h, { fit: "fill" }).toColourspace("srgb").removeAlpha().raw().toBuffer({ resolveWithObject: true }),
    // A linear kernel never overshoots, so any defect pixel under a thumbnail pixel leaves it > 0.
    sharp(mask255, { raw: { width: image.width, height: image.height, channels: 1 } }).resize(w, h, { fit: "fill", kernel: "linear" }).toColourspace("b-w").raw().toBuffer(),
  ]);
  const out = rgb.data;
  const ch = rgb.info.channels;
  const on = (x: number, y: number) => x >= 0 && y >= 0 && x < w && y < h && small[y * w + x] > 0;
  const paint = (i: number, c: readonly number[], a: number) => {
    for (let k = 0; k < 3; k++) out[i * ch + k] = Math.round(out[i * ch + k] * (1 - a) + c[k] * a);
  };
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!on(x, y)) continue;
      const edge = !on(x - 1, y) || !on(x + 1, y) || !on(x, y - 1) || !on(x, y + 1);
      paint(y * w + x, FILL, edge ? 1 : FILL_ALPHA);
    }
  }
  const sx = w / image.width;
  const sy = h / image.height;
  for (const r of regions) {
    const x0 = clamp(Math.floor(r.x * sx) - 1, w);
    const y0 = clamp(Math.floor(r.y * sy) - 1, h);
    const x1 = clamp(Math.ceil((r.x + r.width) * sx), w);
    const y1 = clamp(Math.ceil((r.y + r.height) * sy), h);
    for (let x = x0; x <= x1; x++) (paint(y0 * w + x, BOX, 1), paint(y1 * w + x, BOX, 1));
    for (let y = y0; y <= y1; y++) (paint(y * w + x0, BOX, 1), paint(y * w + x1, BOX, 1));
  }
  // 4:4:4 keeps one-pixel red outlines red; 4:2:0 would smear their colour into the grey around them.
  return sharp(out, { raw: { width: w, height: h, channels: ch as 3 } }).jpeg({ quality, chromaSubsampling: "4:4:4" }).toBuffer();
}

function clamp(v: number, n: number): number {
  return Math.min(n - 1, Math.max(0, v));
}

/**
 * Renders thumbnails at most once per camera per `interval_ms`, one at a time per camera,
 * so that thumbnails never hold up results.
 */
export class ThumbnailRenderer {
  private readonly last = new Map<string, number>();
  private readonly busy = new Set<string>();
  private readonly counts: ThumbnailStats = { rendered: 0, skipped: 0, errors: 0 };

  constructor(
    private readonly opts: ThumbnailOptions,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether a thumbnail of this camera would be rendered now. */
  due(camera: string): boolean {
    if (!this.opts.enabled || this.busy.has(camera)) return false;
    const last = this.last.get(camera);
    return last === undefined || this.now() - last >= this.opts.interval_ms;
  }

  /**
   * A JPEG of the decision's ROI with its mask, or null when disabled or not due (counted as skipped).
   * @throws when sharp fails (counted in errors).
   */
  async render(decision: Pick<Decision, "camera" | "image" | "mask" | "regions">): Promise<Buffer | null> {
    const cam = decision.camera;
    if (!this.due(cam)) {
      if (this.opts.enabled) this.counts.skipped++;
      return null;
    }
    this.last.set(cam, this.now());
    this.busy.add(cam);
    try {
      const jpeg = await renderThumbnail(decision, this.opts.width, this.opts.quality);
      this.counts.rendered++;
      return jpeg;
    } catch (err) {
      this.counts.errors++;
      throw err;
    } finally {
      this.busy.delete(cam);
    }
  }

  /** Counters for /metrics. */
  stats(): ThumbnailStats {
    return { ...this.counts };
  }
}
