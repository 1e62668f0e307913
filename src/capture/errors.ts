/** An error of one camera's capture: the camera id travels with it into logs and stats. */
export class CaptureError extends Error {
  /** Camera id from the config. */
  readonly camera: string;

  constructor(camera: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "CaptureError";
    this.camera = camera;
  }
}
