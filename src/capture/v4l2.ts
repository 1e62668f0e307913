import { access, constants } from "node:fs/promises";
import type { CameraConfig } from "../config/camera.js";
import { quote, singlePlan, sinkTail, type SourcePlan } from "./describe.js";
import { CaptureError } from "./errors.js";

/** Config of a V4L2 (USB, CSI) camera. */
export type V4l2CameraConfig = Extract<CameraConfig, { kind: "v4l2" }>;

/**
 * A V4L2 device: `v4l2src device=DEV [! CAPS] ! decodebin ! <tail live>`; decodebin passes raw
 * video through and decodes MJPEG. The device node is checked first, because v4l2src fails a
 * missing device before the pipeline can report why.
 */
export async function buildV4l2(cfg: V4l2CameraConfig): Promise<SourcePlan> {
  try {
    await access(cfg.device, constants.R_OK | constants.W_OK);
  } catch (err) {
    throw new CaptureError(cfg.id, `V4L2 device ${cfg.device} cannot be opened: ${(err as Error).message}`, { cause: err });
  }
  const caps = cfg.caps === undefined ? "" : `${cfg.caps} ! `;
  return singlePlan(`v4l2src device=${quote(cfg.device)} ! ${caps}decodebin ! ${sinkTail("live", cfg.fps)}`, false, false);
}
