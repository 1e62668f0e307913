import type { Decision, RoiFrame } from "../types.js";
import { regionsAbove } from "./regions.js";
import type { RoiMap } from "./roiMap.js";

/** What a decision needs besides the frame and its map. */
export interface DecideOptions {
  /** Image-score threshold, calibrated units: score >= threshold fails. */
  imageThreshold: number;
  /** Calibrated map value at or above which a pixel is a defect. */
  pixelThreshold: number;
  /** The model's own image score; the map's maximum when absent. */
  score?: number;
  /** Regions smaller than this many ROI pixels are dropped (specks). */
  minRegionPx?: number;
  now?: () => { wall: number; mono: number };
}

/**
 * Pass or fail for one frame. A passing frame has an empty mask and no regions, so a good part
 * never shows defects; a failing one carries the map's cells at or above the pixel threshold.
 */
export function decide(frame: RoiFrame, map: RoiMap, opts: DecideOptions): Decision {
  if (map.roi_width !== frame.width || map.roi_height !== frame.height) {
    throw new RangeError(`map covers ${map.roi_width}x${map.roi_height}, the ROI is ${frame.width}x${frame.height}`);
  }
  const values = map.data;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) if (values[i] > max) max = values[i];
  const score = opts.score ?? (values.length ? max : 0);
  const verdict = score >= opts.imageThreshold ? "fail" : "pass";
  let mask: Uint8Array;
  let regions: Decision["regions"] = [];
  if (verdict === "fail") {
    ({ mask, regions } = regionsAbove(map, opts.pixelThreshold));
    const min = opts.minRegionPx ?? 0;
    if (min > 0) regions = regions.filter((r) => r.area_px >= min);
  } else {
    mask = new Uint8Array(values.length);
  }
  const t = opts.now?.() ?? { wall: Date.now(), mono: performance.now() };
  return {
    camera: frame.camera,
    seq: frame.seq,
    frame_id: `${frame.camera}-${frame.captured_at}-${frame.seq}`,
    captured_at: frame.captured_at,
    captured_mono: frame.captured_mono,
    decided_at: t.wall,
    decided_mono: t.mono,
    verdict,
    score,
    threshold: opts.imageThreshold,
    regions,
    roi: frame.roi,
    image: { width: frame.width, height: frame.height, format: frame.format, data: frame.data },
    mask,
    map,
    release: frame.release,
  };
}
