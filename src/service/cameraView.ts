/**
 * What a camera sees, for the engineer who sets it up: its next whole frame with the region of
 * interest and the model's tiles drawn on it, served by the health server at
 * /cameras/<id>/view.png (or .jpg). The ROI is given in source pixels and tiles are laid out by
 * the daemon, so a picture is the quickest check of both. Nothing is kept between requests: a
 * frame is copied only while a request waits for one.
 */
import sharp from "sharp";
import type { CameraConfig } from "../config/schema.js";
import { checkFrame, roiRect } from "../pipeline/roi.js";
import { tilePlan } from "../pipeline/tile.js";
import type { Frame, TileRect } from "../types.js";

/** Image formats a view is served in. */
export type ViewFormat = "png" | "jpeg";

/** Requests that may wait for one camera's next frame at once; more are refused. */
export const VIEW_WAITERS_MAX = 4;

/** A view that could not be made: `status` is the HTTP status that says why. */
export class ViewError extends Error {
  constructor(
    message: string,
    readonly status: 404 | 429 | 503,
  ) {
    super(message);
    this.name = "ViewError";
  }
}

/** A rendered view and what it shows. */
export interface View {
  image: Buffer;
  type: string;
  frame: { width: number; height: number; seq: number; captured_at: number };
  /** The ROI as the daemon crops it (clipped to the frame), source px; null when it lies outside the frame. */
  roi: { x: number; y: number; width: number; height: number } | null;
  /** The tiles, source px (a tile may reach past the ROI where the ROI is smaller than a tile). */
  tiles: TileRect[];
  /** Why nothing is drawn: the configured ROI lies outside the frame (the pipeline skips such frames). */
  problem?: string;
}

const ROI_COLOUR = "#00ff00";
const TILE_COLOUR = "#00c8ff";
const HALO = "#000000";

/**
 * The frame with its ROI (green, 3 px inside the ROI's edge) and tiles (cyan, 1 px, dashed, so
 * overlapping tiles stay apart), each on a black line inside it, drawn over it at full resolution. Where the configured ROI lies
 * outside the frame, the frame alone, with the reason in `problem`: the picture is what shows
 * where the ROI should go.
 */
export async function renderView(frame: Frame, camera: Pick<CameraConfig, "roi" | "tiling">, format: ViewFormat): Promise<View> {
  const { width, height } = frame;
  const channels = frame.format === "GRAY8" ? 1 : 3;
  checkFrame(frame);
  let roi: View["roi"] = null;
  let problem: string | undefined;
  try {
    roi = roiRect(frame, camera.roi);
  } catch (err) {
    problem = (err as Error).message;
  }
  const tiles = roi ? tilePlan(roi.width, roi.height, camera.tiling).map((t) => ({ ...t, x: t.x + roi.x, y: t.y + roi.y })) : [];
  const rect = (r: TileRect, inset: number, stroke: string, w: number, dash: string) =>
    `<rect x="${r.x + inset}" y="${r.y + inset}" width="${Math.max(0, r.width - 2 * inset)}" height="${Math.max(0, r.height - 2 * inset)}" fill="none" stroke="${stroke}" stroke-width="${w}"${dash ? ` stroke-dasharray="${dash}"` : ""}/>`;
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
    // Each line over a dark one a little wider, inside the rectangle, so it shows on any scene.
    tiles.map((t) => rect(t, 1.5, HALO, 3, "6 4") + rect(t, 0.5, TILE_COLOUR, 1, "6 4")).join("") +
    (roi ? rect(roi, 2.5, HALO, 5, "") + rect(roi, 1.5, ROI_COLOUR, 3, "") : "") +
    `</svg>`;
  let img = sharp(Buffer.from(frame.data.buffer, frame.data.byteOffset, frame.data.byteLength), { raw: { width, height, channels } });
  if (channels === 1) img = img.toColourspace("srgb");
  img = img.composite([{ input: Buffer.from(svg), left: 0, top: 0 }]).removeAlpha();
  const image = format === "png" ? await img.png({ compressionLevel: 6 }).toBuffer() : await img.jpeg({ quality: 90 }).toBuffer();
  return {
    image,
    type: format === "png" ? "image/png" : "image/jpeg",
    frame: { width, height, seq: frame.seq, captured_at: frame.captured_at },
    roi,
    tiles,
    ...(problem ? { problem } : {}),
  };
}

interface Waiter {
  resolve: (frame: Frame) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * Hands each camera's next frame to the requests waiting for it. The daemon calls `offer` with
 * every frame before the pipeline sees it; a frame is copied only when a request waits.
 */
export class CameraViews {
  private readonly waiting = new Map<string, Waiter[]>();
  private readonly cameras: Map<string, Pick<CameraConfig, "roi" | "tiling">>;
  private closed = false;

  constructor(
    cameras: readonly Pick<CameraConfig, "id" | "roi" | "tiling">[],
    private readonly timeoutMs = 5000,
  ) {
    this.cameras = new Map(cameras.map((c) => [c.id, c]));
  }

  /** The cameras' ids, in config order. */
  ids(): string[] {
    return [...this.cameras.keys()];
  }

  /** Called with every frame, synchronously, while its buffer is still the frame's. */
  offer(frame: Frame): void {
    const w = this.waiting.get(frame.camera);
    if (!w?.length) return;
    this.waiting.delete(frame.camera);
    const copy: Frame = { ...frame, data: Uint8Array.from(frame.data), release: undefined };
    for (const x of w) {
      clearTimeout(x.timer);
      x.resolve(copy);
    }
  }

  /**
   * The camera's next frame, drawn. Rejects with a ViewError: 404 for a camera not in the config,
   * 429 when VIEW_WAITERS_MAX requests already wait for it, 503 when it delivers no frame within
   * the timeout (down, or the daemon stopping).
   */
  async view(camera: string, format: ViewFormat): Promise<View> {
    const cfg = this.cameras.get(camera);
    if (!cfg) throw new ViewError(`no camera '${camera}' in the config`, 404);
    if (this.closed) throw new ViewError("the daemon is stopping", 503);
    const list = this.waiting.get(camera) ?? [];
    if (list.length >= VIEW_WAITERS_MAX) throw new ViewError(`${VIEW_WAITERS_MAX} requests already wait for a frame of camera '${camera}'`, 429);
    const frame = await new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(() => {
        const l = this.waiting.get(camera) ?? [];
        const at = l.indexOf(me);
        if (at >= 0) l.splice(at, 1);
        reject(new ViewError(`camera '${camera}' delivered no frame within ${this.timeoutMs / 1000} s (see /healthz)`, 503));
      }, this.timeoutMs);
      const me: Waiter = { resolve, reject, timer };
      list.push(me);
      this.waiting.set(camera, list);
    });
    return renderView(frame, cfg, format);
  }

  /** Refuses the requests waiting and any later one. */
  close(): void {
    this.closed = true;
    for (const w of this.waiting.values()) {
      for (const x of w) {
        clearTimeout(x.timer);
        x.reject(new ViewError("the daemon is stopping", 503));
      }
    }
    this.waiting.clear();
  }
}
