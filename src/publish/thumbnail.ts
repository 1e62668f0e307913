import sharp from "sharp";
import type { RoiMap } from "../pipeline/roiMap.js";
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
  /** Binary mask over the cells of `map` (see RoiMap), 1 = defect. */
  mask: Uint8Array;
  map: Pick<RoiMap, "width" | "height" | "step">;
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
 * solid red outline) and a yellow box around each region. The image is resized in libvips's
 * thread pool; JavaScript only touches the mask's cells and the small output.
 */
export async function renderThumbnail(input: ThumbnailInput, width: number, quality: number): Promise<Buffer> {
  const { image, regions } = input;
  const w = Math.max(1, Math.round(width));
  const h = Math.max(1, Math.round((image.height * w) / image.width));
  const channels = image.format === "GRAY8" ? 1 : 3;
  const raw = { width: image.width, height: image.height, channels } as const;
  const rgb = await sharp(image.data, { raw }).resize(w, h, { fit: "fill" }).toColourspace("srgb").removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const small = thumbnailMask(input, w, h);
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

/**
 * The mask at thumbnail size: a thumbnail pixel is set when any defect cell lies under it, so a
 * one-cell defect never vanishes in the shrink (a 2-D prefix sum answers each pixel in O(1)).
 */
function thumbnailMask({ image, mask, map }: ThumbnailInput, w: number, h: number): Uint8Array {
  const gw = map.width, gh = map.height;
  if (mask.length !== gw * gh) throw new RangeError(`mask has ${mask.length} cells, the map ${gw}x${gh}`);
  const sum = new Int32Array((gw + 1) * (gh + 1));
  for (let j = 0; j < gh; j++) {
    let row = 0;
    for (let i = 0; i < gw; i++) {
      row += mask[j * gw + i] ? 1 : 0;
      sum[(j + 1) * (gw + 1) + i + 1] = sum[j * (gw + 1) + i + 1] + row;
    }
  }
  // Cells under thumbnail column x (ROI px floor(x W / w) .. ceil((x + 1) W / w) - 1), and rows.
  const span = (n: number, roi: number, cells: number) => {
    const lo = new Int32Array(n), hi = new Int32Array(n);
    for (let x = 0; x < n; x++) {
      const p0 = Math.floor((x * roi) / n), p1 = Math.max(p0 + 1, Math.ceil(((x + 1) * roi) / n));
      lo[x] = Math.min(cells - 1, Math.floor(p0 / map.step));
      hi[x] = Math.min(cells, Math.floor((p1 - 1) / map.step) + 1);
    }
    return { lo, hi };
  };
  const X = span(w, image.width, gw), Y = span(h, image.height, gh);
  const out = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    const a = Y.lo[y] * (gw + 1), b = Y.hi[y] * (gw + 1);
    for (let x = 0; x < w; x++) {
      const l = X.lo[x], r = X.hi[x];
      if (sum[b + r] - sum[a + r] - sum[b + l] + sum[a + l] > 0) out[y * w + x] = 1;
    }
  }
  return out;
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
  ) {
    // libvips's operation cache (sharp's default: 100 operations) can only hold memory in a
    // daemon whose every thumbnail starts from a new frame: off (process-wide).
    sharp.cache(false);
  }

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
  async render(decision: Pick<Decision, "camera" | "image" | "mask" | "map" | "regions">): Promise<Buffer | null> {
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
