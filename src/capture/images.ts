import { mkdir, open, readdir, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { CameraConfig } from "../config/camera.js";
import { fraction, quote, sinkTail, type SourcePlan } from "./describe.js";
import { CaptureError } from "./errors.js";

/** Config of a camera that replays a folder of images. */
export type ImagesCameraConfig = Extract<CameraConfig, { kind: "images" }>;

type ImageType = "jpeg" | "png";

const DECODER: Record<ImageType, { caps: string; element: string }> = {
  jpeg: { caps: "image/jpeg", element: "jpegdec" },
  png: { caps: "image/png", element: "pngdec" },
};

/** The type of an image file from its first bytes, or null when it is neither JPEG nor PNG (or empty). */
async function sniff(path: string): Promise<ImageType | null> {
  const fh = await open(path, "r");
  try {
    const head = Buffer.alloc(8);
    const { bytesRead } = await fh.read(head, 0, 8, 0);
    if (bytesRead >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return "jpeg";
    if (bytesRead === 8 && head.toString("latin1", 1, 4) === "PNG" && head[0] === 0x89) return "png";
    return null;
  } finally {
    await fh.close();
  }
}

/** Folder where a camera's numbered links live; one per camera and process. */
export function stagingDir(camera: string): string {
  return join(tmpdir(), `linewatch-${process.pid}-${camera}`);
}

/**
 * A folder of JPEG and PNG images, read in name order, shown at `fps` images per second.
 *
 * The images are linked as 000000, 000001, ... into a staging folder, and each run of images of
 * one format is one pipeline: `multifilesrc location=STAGING/%06d index=A start-index=A stop-index=B
 * caps="image/jpeg,framerate=F" ! jpegdec ! <tail paced>` (pngdec for PNG). multifilesrc reads one
 * file a buffer; the decoder timestamps them from the caps' frame rate and the sync=true appsink
 * plays them at that rate. The decoder renegotiates caps for each image of another size. A decoder
 * cannot take both formats, hence a run per format; a folder of one format is one pipeline.
 * (Measured: decoding each image in its own filesrc ! decodebin pipeline costs ~10 ms an image and
 * leaks a pipeline each time in gstreamer-superficial, which never frees one.)
 *
 * The folder is read again at each pass, so images added while it loops show up at the next pass.
 * A missing folder, or one without images, is a CaptureError (the camera goes down and retries).
 */
export async function buildImages(cfg: ImagesCameraConfig): Promise<SourcePlan> {
  const folder = resolve(cfg.path);
  let names: string[];
  try {
    names = (await readdir(folder)).filter((n) => /\.(jpe?g|png)$/i.test(n)).sort();
  } catch (err) {
    throw new CaptureError(cfg.id, `images folder ${cfg.path} cannot be read: ${(err as Error).message}`, { cause: err });
  }
  const files: { path: string; type: ImageType }[] = [];
  for (const name of names) {
    const path = join(folder, name);
    const type = await sniff(path).catch(() => null);
    if (type !== null) files.push({ path, type });
  }
  if (files.length === 0) throw new CaptureError(cfg.id, `images folder ${cfg.path} holds no readable JPEG or PNG image`);

  const staging = stagingDir(cfg.id);
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  await Promise.all(files.map((f, i) => symlink(f.path, join(staging, String(i).padStart(6, "0")))));

  const descriptions: string[] = [];
  for (let start = 0; start < files.length; ) {
    let end = start;
    while (end + 1 < files.length && files[end + 1].type === files[start].type) end++;
    const dec = DECODER[files[start].type];
    const caps = quote(`${dec.caps},framerate=${fraction(cfg.fps)}`);
    const src = `multifilesrc location=${quote(join(staging, "%06d"))} index=${start} start-index=${start} stop-index=${end} caps=${caps}`;
    descriptions.push(`${src} ! ${dec.element} ! ${sinkTail("paced")}`);
    start = end + 1;
  }
  return {
    descriptions,
    finite: true,
    loop: cfg.loop,
    replayable: true,
    fps: cfg.fps,
    dispose: () => rm(staging, { recursive: true, force: true }),
  };
}
