/** Capture: camera configs in, frames out. The only stage that imports the GStreamer binding. */
export { Camera, type CameraOptions, type CameraState, type CameraStats } from "./camera.js";
export { CaptureError } from "./errors.js";
export { planSource, sourceBuilders, type CameraKind, type SourceBuilder } from "./registry.js";
export { fraction, sinkTail, type SinkMode, type SourcePlan } from "./describe.js";
