import type { CameraConfig } from "../config/camera.js";
import { singlePlan, type SourcePlan } from "./describe.js";
import { CaptureError } from "./errors.js";

/** Config of a camera given as a raw GStreamer description. */
export type PipelineCameraConfig = Extract<CameraConfig, { kind: "pipeline" }>;

/**
 * A raw gst-launch description, used as written. It must end in an appsink named `sink` delivering
 * `video/x-raw,format=RGB` (or GRAY8); its appsink settings are the author's (for a live source,
 * `sync=false drop=true max-buffers=2` is what the built kinds use). It is treated as live: end of
 * stream is a fault and the pipeline is restarted with backoff. The fps cap is not applied: put a
 * videorate in the description.
 */
export async function buildPipeline(cfg: PipelineCameraConfig): Promise<SourcePlan> {
  if (!/\bappsink\b/.test(cfg.description) || !/\bname\s*=\s*"?sink"?(\s|$)/.test(cfg.description)) {
    throw new CaptureError(cfg.id, "pipeline description must end in an appsink named sink (`... ! appsink name=sink`)");
  }
  return singlePlan(cfg.description, false, false);
}
