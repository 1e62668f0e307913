import type { CameraConfig } from "../config/camera.js";
import { quote, singlePlan, sinkTail, type SourcePlan } from "./describe.js";

/** Config of a GigE Vision / USB3 Vision camera read through Aravis. */
export type GigeCameraConfig = Extract<CameraConfig, { kind: "gige" }>;

/**
 * A GenICam camera: `aravissrc [camera-name=NAME] ! <tail live>`. Needs the Aravis
 * GStreamer plugin (Debian 12 packages libaravis but not its plugin: build aravis with its
 * gst-plugin option); without it the camera is down with `no element "aravissrc"`. Cameras that
 * send Bayer need a `pipeline` camera with `bayer2rgb` instead.
 */
export async function buildGige(cfg: GigeCameraConfig): Promise<SourcePlan> {
  const name = cfg.camera_name === undefined ? "" : ` camera-name=${quote(cfg.camera_name)}`;
  return singlePlan(`aravissrc${name} ! ${sinkTail("live", cfg.fps)}`, false, false);
}
