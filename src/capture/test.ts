import type { CameraConfig } from "../config/camera.js";
import { fraction, singlePlan, sinkTail, type SourcePlan } from "./describe.js";
import { CaptureError } from "./errors.js";

/** Config of a synthetic test-pattern camera. */
export type TestCameraConfig = Extract<CameraConfig, { kind: "test" }>;

/** Frame rate of a test camera without an fps cap, frames per second. */
export const TEST_DEFAULT_FPS = 30;

/**
 * A live test pattern: `videotestsrc is-live=true pattern=P ! video/x-raw,width=W,height=H,framerate=F
 * ! <tail live>`. is-live makes it produce at the frame rate like a camera instead of as fast as the
 * CPU allows; the fps cap is the source's own frame rate, so no videorate is needed.
 */
export async function buildTest(cfg: TestCameraConfig): Promise<SourcePlan> {
  if (!/^[a-z0-9-]+$/.test(cfg.pattern)) {
    throw new CaptureError(cfg.id, `test pattern '${cfg.pattern}' is not a videotestsrc pattern name`);
  }
  const caps = `video/x-raw,width=${cfg.width},height=${cfg.height},framerate=${fraction(cfg.fps ?? TEST_DEFAULT_FPS)}`;
  return singlePlan(`videotestsrc is-live=true pattern=${cfg.pattern} ! ${caps} ! ${sinkTail("live")}`, false, false);
}
