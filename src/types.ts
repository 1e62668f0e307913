/**
 * The data that flows between stages. Stages never import each other; they share these shapes.
 */

import type { RoiMap } from "./pipeline/roiMap.js";

/** Pixel layouts a frame may carry; rows are tightly packed (no stride padding). */
export type PixelFormat = "RGB" | "GRAY8";

/** One decoded camera frame. */
export interface Frame {
  /** Camera id from the config. */
  camera: string;
  /** Per-camera sequence number, from 0 at daemon start, gap-free over delivered frames. */
  seq: number;
  /** Wall-clock capture time, ms since the epoch. */
  captured_at: number;
  /** Monotonic capture time, ms (performance.now()), for latency. */
  captured_mono: number;
  width: number;
  height: number;
  format: PixelFormat;
  /** width * height * channels bytes. */
  data: Uint8Array;
  /**
   * Gives `data`'s buffer back to capture's pool, to be filled by a later frame of the camera. Only
   * the frame's last user calls it, once nothing reads `data` any more (the pipeline, for a frame
   * it drops or fails; else whoever consumes its Decision, see Decision.release). Not calling it
   * costs one allocation; calling it twice does nothing. Absent for frames not from a pool.
   */
  release?: () => void;
}

/** A frame after ROI crop: the pixels that are inspected. */
export interface RoiFrame extends Frame {
  /** Where the ROI sits in the source frame, px. */
  roi: { x: number; y: number; width: number; height: number };
}

/** Placement of one tile in ROI pixels. */
export interface TileRect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** One model input, cut from a frame. */
export interface Tile {
  /** Key of the frame this tile belongs to: `${camera}/${seq}`. */
  frame_key: string;
  index: number;
  /** Tiles of the frame in all. */
  count: number;
  rect: TileRect;
  /** CHW float32, normalised as the manifest says, of the model's input size. */
  input: Float32Array;
  /** Feature bank (few-shot reference) the worker fuses this tile's map with; 0 or absent for none. */
  bank?: number;
}

/** One tile's output. */
export interface TileMap {
  frame_key: string;
  index: number;
  count: number;
  rect: TileRect;
  /** Calibrated anomaly map, of size map_width x map_height. */
  map: Float32Array;
  map_width: number;
  map_height: number;
  /** Calibrated image score from the model's own head, when it has one. */
  score?: number;
}

/** A connected defect region in ROI pixels. */
export interface Region {
  /** Bounding box, ROI px. */
  x: number;
  y: number;
  width: number;
  height: number;
  /** Pixels in the region. */
  area_px: number;
  /** Area as % of the ROI. */
  area_pct: number;
  /** Major over minor axis of the region's second moments, >= 1. */
  elongation: number;
  /** Mean calibrated score inside the region. */
  mean_score: number;
  /** Centroid, ROI px. */
  cx: number;
  cy: number;
}

/** The decision on one frame. */
export interface Decision {
  camera: string;
  seq: number;
  frame_id: string;
  captured_at: number;
  captured_mono: number;
  decided_at: number;
  decided_mono: number;
  verdict: "pass" | "fail";
  score: number;
  threshold: number;
  regions: Region[];
  roi: { x: number; y: number; width: number; height: number };
  /** The ROI pixels, for thumbnails. */
  image: { width: number; height: number; format: PixelFormat; data: Uint8Array };
  /** Binary mask over the map's cells (1 = defect); maskToPixels() gives it at ROI resolution. */
  mask: Uint8Array;
  /** Stitched anomaly map over the ROI, on cells of map.step px; toPixels() resizes it to the ROI. */
  map: RoiMap;
  /**
   * The frame's Frame.release: the consumer calls it once it is done with `image` (after a
   * thumbnail is rendered, or at once when none is), so capture reuses the buffer. `image.data`
   * must not be read after it.
   */
  release?: () => void;
}
