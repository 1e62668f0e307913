import { readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { loadImage } from "../eval/loadImage.js";
import { InferenceEngine, ModelError } from "../pipeline/inferenceEngine.js";
import { buildReference, referenceWarnings } from "../pipeline/reference.js";
import { cropRoi } from "../pipeline/roi.js";
import { ReferenceStore } from "../pipeline/referenceStore.js";
import { createLogger } from "../service/logger.js";
import { cameraCommand, UsageError } from "./args.js";
import { asInspectImage } from "./evalCommand.js";

/**
 * `linewatch enroll --config FILE --camera ID --images DIR`: builds a camera's few-shot reference
 * from a folder of good parts and stores it under the state directory; a running daemon uses it
 * from its next frame on. `--clear` removes it.
 */
export async function enrollCommand(args: string[]): Promise<number> {
  const setup = cameraCommand("enroll", args, { config: { type: "string", short: "c" }, camera: { type: "string" }, images: { type: "string" }, clear: { type: "boolean", default: false } }, (o) => {
    if (!o.images && !o.clear) throw new UsageError("--images DIR (or --clear) is required");
  });
  if (!setup) return 2;
  const { o, cfg, cam } = setup;
  const store = new ReferenceStore(cfg.state_dir);
  if (o.clear) {
    store.remove(cam.id);
    process.stdout.write(`reference of camera ${cam.id} removed\n`);
    return 0;
  }
  const dir = resolve(o.images!);
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => /\.(png|jpe?g|bmp)$/i.test(f)).sort().map((f) => join(dir, f));
  } catch (err) {
    process.stderr.write(`linewatch enroll: cannot read ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}\n`);
    return 2;
  }
  if (files.length === 0) {
    process.stderr.write(`linewatch enroll: no PNG, JPEG or BMP images in ${dir}\n`);
    return 2;
  }
  let engine: InferenceEngine;
  try {
    engine = await InferenceEngine.open(cfg.model, createLogger("warn", process.stderr));
  } catch (err) {
    if (err instanceof ModelError) {
      process.stderr.write(`linewatch enroll: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  try {
    // Enrolment images are whole camera frames: crop them to the camera's ROI as the daemon does.
    const images = await Promise.all(
      files.map(async (f, seq) => {
        const img = asInspectImage(await loadImage(f));
        return cropRoi({ ...img, camera: cam.id, seq, captured_at: 0, captured_mono: 0 }, cam.roi);
      }),
    );
    const ref = await buildReference(engine, images, { tiling: cam.tiling, batchMax: cfg.pipeline.batch_max_tiles });
    store.save(cam.id, ref);
    if (ref.kind !== "features") process.stderr.write(`linewatch enroll: the model ${engine.manifest.name} ${engine.manifest.version} has no features output; stored a map-statistics reference instead of a feature bank\n`);
    const what = ref.kind === "features" ? `feature bank of ${ref.bank.count} patches` : "map statistics";
    process.stdout.write(`camera ${cam.id}: reference (${what}) of ${ref.shots} good image(s) stored in ${store.path(cam.id)}\n`);
    for (const w of referenceWarnings(ref)) process.stderr.write(`linewatch enroll: warning: ${w}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`linewatch enroll: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await engine.close();
  }
}
