import type { Roi } from "../config/schema.js";
import type { Frame, RoiFrame } from "../types.js";

/** A frame too small for its configured ROI, or with a buffer that does not match its size. */
export class FrameError extends Error {
  constructor(
    message: string,
    readonly camera: string,
    readonly seq: number,
  ) {
    super(message);
    this.name = "FrameError";
  }
}

/** Throws a FrameError when the frame's buffer does not match its size and format. */
export function checkFrame(frame: Frame): void {
  const ch = frame.format === "RGB" ? 3 : 1;
  if (frame.width <= 0 || frame.height <= 0 || frame.data.length !== frame.width * frame.height * ch) {
    throw new FrameError(`frame ${frame.width}x${frame.height} ${frame.format} has ${frame.data.length} bytes`, frame.camera, frame.seq);
  }
}

/**
 * Where the region of interest lies in the frame (the whole frame when none is set), clipped to
 * it; a ROI wholly outside is a FrameError. Pixels are not touched.
 */
export function roiRect(frame: Frame, roi?: Roi): RoiFrame["roi"] {
  if (!roi) return { x: 0, y: 0, width: frame.width, height: frame.height };
  const x = Math.min(roi.x, frame.width);
  const y = Math.min(roi.y, frame.height);
  const w = Math.min(roi.width, frame.width - x);
  const h = Math.min(roi.height, frame.height - y);
  if (w <= 0 || h <= 0) {
    throw new FrameError(`ROI ${roi.x},${roi.y} ${roi.width}x${roi.height} lies outside the ${frame.width}x${frame.height} frame`, frame.camera, frame.seq);
  }
  return { x, y, width: w, height: h };
}

/**
 * Crops a frame to its region of interest (the whole frame when none is set). A ROI reaching past
 * the frame is clipped to it; one wholly outside, or a buffer of the wrong size, is a FrameError.
 */
export function cropRoi(frame: Frame, roi?: Roi): RoiFrame {
  checkFrame(frame);
  const rect = roiRect(frame, roi);
  const { x, y, width: w, height: h } = rect;
  if (x === 0 && y === 0 && w === frame.width && h === frame.height) return { ...frame, roi: rect };
  const ch = frame.format === "RGB" ? 3 : 1;
  const out = new Uint8Array(w * h * ch);
  const row = w * ch;
  for (let r = 0; r < h; r++) {
    const src = ((y + r) * frame.width + x) * ch;
    out.set(frame.data.subarray(src, src + row), r * row);
  }
  // The crop is a copy: the source buffer goes back to capture now.
  frame.release?.();
  return { ...frame, width: w, height: h, data: out, roi: rect, release: undefined };
}
