import { access, constants } from "node:fs/promises";
import type { CameraConfig } from "../config/camera.js";
import { quote, singlePlan, sinkTail, type SourcePlan } from "./describe.js";
import { CaptureError } from "./errors.js";

/** Config of a camera that replays a video file. */
export type FileCameraConfig = Extract<CameraConfig, { kind: "file" }>;

/**
 * A video file played at its own frame rate: `filesrc location=PATH ! decodebin ! <tail paced>`.
 * The file is checked first so that a missing file says so in the camera's last_error. decodebin's
 * pads appear while playing, so the pipeline loops by seeking back to the start.
 */
export async function buildFile(cfg: FileCameraConfig): Promise<SourcePlan> {
  try {
    await access(cfg.path, constants.R_OK);
  } catch (err) {
    throw new CaptureError(cfg.id, `video file ${cfg.path} cannot be read: ${(err as Error).message}`, { cause: err });
  }
  return singlePlan(`filesrc location=${quote(cfg.path)} ! decodebin ! ${sinkTail("paced", cfg.fps)}`, true, cfg.loop, cfg.fps);
}
