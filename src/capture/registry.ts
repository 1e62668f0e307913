import type { CameraConfig } from "../config/camera.js";
import type { SourcePlan } from "./describe.js";
import { buildFile } from "./file.js";
import { buildGige } from "./gige.js";
import { buildImages } from "./images.js";
import { buildPipeline } from "./pipeline.js";
import { buildRtsp } from "./rtsp.js";
import { buildTest } from "./test.js";
import { buildV4l2 } from "./v4l2.js";

/** Camera kinds, from the config schema's discriminator. */
export type CameraKind = CameraConfig["kind"];

/** Turns the config of one kind into a plan; rejects with a CaptureError when the source is missing. */
export type SourceBuilder<K extends CameraKind> = (cfg: Extract<CameraConfig, { kind: K }>) => Promise<SourcePlan>;

/** The builder of every kind; adding a kind to the schema without one here fails the type check. */
export const sourceBuilders: { [K in CameraKind]: SourceBuilder<K> } = {
  rtsp: buildRtsp,
  v4l2: buildV4l2,
  gige: buildGige,
  file: buildFile,
  images: buildImages,
  test: buildTest,
  pipeline: buildPipeline,
};

/** Builds the plan of any camera by its kind. */
export function planSource(cfg: CameraConfig): Promise<SourcePlan> {
  // TypeScript cannot tie sourceBuilders[cfg.kind] to the narrowed cfg; the mapped type above
  // guarantees each builder takes exactly its own kind.
  const build = sourceBuilders[cfg.kind] as (c: CameraConfig) => Promise<SourcePlan>;
  return build(cfg);
}
