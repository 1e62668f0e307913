import sharp from "sharp";
import type { RoiMap } from "../pipeline/roiMap.js";
import type { Decision, PixelFormat, Region } from "../types.js";
import { version } from "../version.js";
import { KeyedThrottle } from "./keyedThrottle.js";

/** Thumbnail settings (the `mqtt.thumbnail` config section). */
export interface ThumbnailOptions {
  enabled: boolean;
  /** Output width, px; the height keeps the ROI's aspect. */
  width: number;
  /** At most one thumbnail of a passing frame per camera per this many ms. */
  interval_ms: number;
  /**
   * At most one thumbnail of a failing frame per camera per this many ms: failing frames have a
   * clock of their own, so a pass thumbnail just sent never hides the next failed part.
   */
  fail_interval_ms: number;
  /** JPEG quality, 1..100. */
  quality: number;
}

/** What {@link renderThumbnail} draws. */
export interface ThumbnailInput {
  image: { width: number; height: number; format: PixelFormat; data: Uint8Array };
  /** Written into the JPEG's EXIF ImageDescription, so that a thumbnail names its result. */
  frame_id?: string;
  /** Binary mask over the cells of `map` (see RoiMap), 1 = defect. */
  mask: Uint8Array;
  map: Pick<RoiMap, "width" | "height" | "step">;
  regions: readonly Region[];
}

/** Counters of a {@link ThumbnailRenderer}. */
export interface ThumbnailStats {
  rendered: number;
  /**
   * Not rendered: within interval_ms (fail_interval_ms for a failing frame) of the camera's last
   * one of that verdict, or that one still rendering.
   */
  skipped: number;
  errors: number;
}

const FILL: readonly [number, number, number] = [255, 32, 32];
const FILL_ALPHA = 0.4;
const BOX: readonly [number, number, number] = [255, 214, 0];

/**
 * JPEG of the image resized to `width`, with the mask drawn over it (translucent red fill,
 * solid red outline) and a yellow box around each region; its EXIF says which frame it shows
 * (ImageDescription: the result's frame_id) and what made it (Software). The image is resized in
 * libvips's thread pool; JavaScript only touches the mask's cells and the small output.
 */
export async function renderThumbnail(input: ThumbnailInput, width: number, quality: number): Promise<Buffer> {
  const { image, regions } = input;
  const w = Math.max(1, Math.round(width));
  const h = Math.max(1, Math.round((image.height * w) / image.width));
  const channels = image.format === "GRAY8" ? 1 : 3;
  const raw = { width: image.width, height: image.height, channels } as const;
  const rgb = await sharp(image.data, { raw }).resize(w, h, { fit: "fill" }).toColourspace("srgb").removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const { mask: small, rows } = thumbnailMask(input, w, h);
  const out = rgb.data;
  const ch = rgb.info.channels;
  const on = (x: number, y: number) => x >= 0 && y >= 0 && x < w && y < h && small[y * w + x] > 0;
  const paint = (i: number, c: readonly number[], a: number) => {
    for (let k = 0; k < 3; k++) out[i * ch + k] = Math.round(out[i * ch + k] * (1 - a) + c[k] * a);
  };
  for (let y = 0; y < h; y++) {
    if (!rows[y]) continue;
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
  const exif = { IFD0: { Software: `linewatch ${version}`, ...(input.frame_id ? { ImageDescription: input.frame_id } : {}) } };
  return sharp(out, { raw: { width: w, height: h, channels: ch as 3 } }).withExif(exif).jpeg({ quality, chromaSubsampling: "4:4:4" }).toBuffer();
}

/**
 * The mask at thumbnail size: a thumbnail pixel is set when any defect cell lies under it, so a
 * one-cell defect never vanishes in the shrink (a 2-D prefix sum answers each pixel in O(1)).
 * `rows` flags the thumbnail rows with a set pixel: rows over defect-free cell rows are skipped,
 * so a mask with few defects costs little on the main thread (a 320x240 thumbnail of a failed part
 * took 1.9 ms there when every pixel was looked up).
 */
function thumbnailMask({ image, mask, map }: ThumbnailInput, w: number, h: number): { mask: Uint8Array; rows: Uint8Array } {
  const gw = map.width, gh = map.height;
  if (mask.length !== gw * gh) throw new RangeError(`mask has ${mask.length} cells, the map ${gw}x${gh}`);
  const sum = new Int32Array((gw + 1) * (gh + 1));
  /** Set cells in cell rows 0..j-1. */
  const rowsBefore = new Int32Array(gh + 1);
  for (let j = 0; j < gh; j++) {
    let row = 0;
    for (let i = 0; i < gw; i++) {
      row += mask[j * gw + i] ? 1 : 0;
      sum[(j + 1) * (gw + 1) + i + 1] = sum[j * (gw + 1) + i + 1] + row;
    }
    rowsBefore[j + 1] = rowsBefore[j] + row;
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
  const rows = new Uint8Array(h);
  for (let y = 0; y < h; y++) {
    if (rowsBefore[Y.hi[y]] === rowsBefore[Y.lo[y]]) continue;
    const a = Y.lo[y] * (gw + 1), b = Y.hi[y] * (gw + 1);
    for (let x = 0; x < w; x++) {
      const l = X.lo[x], r = X.hi[x];
      if (sum[b + r] - sum[a + r] - sum[b + l] + sum[a + l] > 0) {
        out[y * w + x] = 1;
        rows[y] = 1;
      }
    }
  }
  return { mask: out, rows };
}

function clamp(v: number, n: number): number {
  return Math.min(n - 1, Math.max(0, v));
}

function clockKey(camera: string, verdict: Decision["verdict"]): string {
  return `${camera}\0${verdict}`;
}

/**
 * Renders thumbnails at most once per camera per `interval_ms` for passing frames and per
 * `fail_interval_ms` for failing ones, one at a time per camera and verdict, so that thumbnails
 * never hold up results and a failed part is shown even right after a pass thumbnail.
 */
export class ThumbnailRenderer {
  /** Keyed by clockKey: camera and verdict. */
  private readonly throttle: KeyedThrottle;
  private readonly counts: ThumbnailStats = { rendered: 0, skipped: 0, errors: 0 };

  constructor(
    private readonly opts: ThumbnailOptions,
    now: () => number = Date.now,
  ) {
    this.throttle = new KeyedThrottle(now);
    // libvips's operation cache (sharp's default: 100 operations) can only hold memory in a
    // daemon whose every thumbnail starts from a new frame: off (process-wide).
    sharp.cache(false);
  }

  /** Whether a thumbnail of this camera's frame with this verdict would be rendered now. */
  due(camera: string, verdict: Decision["verdict"]): boolean {
    return this.opts.enabled && this.throttle.due(clockKey(camera, verdict), this.interval(verdict));
  }

  /**
   * A JPEG of the decision's ROI with its mask, or null when disabled or not due (counted as skipped).
   * @throws when sharp fails (counted in errors).
   */
  async render(decision: Pick<Decision, "camera" | "frame_id" | "verdict" | "image" | "mask" | "map" | "regions">): Promise<Buffer | null> {
    if (!this.opts.enabled) return null;
    const key = clockKey(decision.camera, decision.verdict);
    if (!this.throttle.begin(key, this.interval(decision.verdict))) {
      this.counts.skipped++;
      return null;
    }
    try {
      const jpeg = await renderThumbnail(decision, this.opts.width, this.opts.quality);
      this.counts.rendered++;
      return jpeg;
    } catch (err) {
      this.counts.errors++;
      throw err;
    } finally {
      this.throttle.done(key);
    }
  }

  private interval(verdict: Decision["verdict"]): number {
    return verdict === "fail" ? this.opts.fail_interval_ms : this.opts.interval_ms;
  }

  /** Counters for /metrics. */
  stats(): ThumbnailStats {
    return { ...this.counts };
  }
}
