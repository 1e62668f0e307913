import { writeFileSync } from "node:fs";
import { extname, resolve } from "node:path";
import { firstValueFrom } from "rxjs";
import { Camera } from "../capture/camera.js";
import { renderView, type View } from "../service/cameraView.js";
import { createLogger } from "../service/logger.js";
import { cameraCommand } from "./args.js";

/** A ROI this far from square is stretched by `tiling: resize` (README, Configuration). */
const STRETCH_NOTE = 1.5;

/**
 * `linewatch view --config FILE --camera ID [--out FILE.png|.jpg] [--timeout S]`: opens the camera
 * as the daemon would, takes one frame and writes it with the ROI and the tiles drawn on it, for
 * setting up a camera before the service runs (a running daemon serves the same picture at
 * /cameras/<id>/view.png; a V4L2 or GigE device it holds cannot be opened twice). Exit 0; 1 when
 * the camera delivers no frame or the ROI lies outside it (the picture is still written); 2 for
 * bad options or config.
 */
export async function viewCommand(args: string[]): Promise<number> {
  const setup = cameraCommand("view", args, { config: { type: "string", short: "c" }, camera: { type: "string" }, out: { type: "string" }, timeout: { type: "string", default: "15" } });
  if (!setup) return 2;
  const { o, cam } = setup;
  const out = resolve(o.out ?? `${cam.id}-view.png`);
  const ext = extname(out).toLowerCase();
  const timeoutS = Number(o.timeout);
  if (![".png", ".jpg", ".jpeg"].includes(ext) || !(timeoutS > 0)) {
    process.stderr.write("linewatch view: --out must end in .png, .jpg or .jpeg and --timeout be seconds > 0\n");
    return 2;
  }
  const camera = new Camera(cam, createLogger("fatal", process.stderr), { backoffInitialMs: 60_000, backoffMaxMs: 60_000, startTimeoutMs: timeoutS * 1000 });
  try {
    const first = firstValueFrom(camera.frames$);
    void first.catch(() => {});
    const started = camera.start();
    const frame = await Promise.race([
      first,
      started.then(async () => {
        // start() settles on the first frame, a failure, the end of a short source or its own timeout.
        const s = camera.stats();
        if (s.state === "down" || (s.state === "ended" && s.frames === 0)) throw new Error(s.last_error ?? `the camera is ${s.state}`);
        return new Promise<never>(() => {});
      }),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no frame within ${timeoutS} s`)), timeoutS * 1000).unref()),
    ]);
    const view = await renderView(frame, cam, ext === ".png" ? "png" : "jpeg");
    writeFileSync(out, view.image);
    process.stdout.write(describe(cam.id, view, cam.tiling, out));
    if (view.problem) {
      process.stderr.write(`linewatch view: ${view.problem}: the daemon would skip every frame of camera ${cam.id}; fix its roi\n`);
      return 1;
    }
    return 0;
  } catch (err) {
    process.stderr.write(`linewatch view: camera ${cam.id} (${cam.kind}) delivered no frame: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await camera.stop();
  }
}

function describe(id: string, v: View, tiling: { mode: string; tile?: number; overlap?: number }, out: string): string {
  const lines = [`camera ${id}: ${v.frame.width}x${v.frame.height} frame written to ${out}`];
  const r = v.roi;
  if (r) {
    lines.push(`  ROI x ${r.x}, y ${r.y}, ${r.width}x${r.height} (green)`);
    if (tiling.mode === "grid") lines.push(`  ${v.tiles.length} tiles of ${tiling.tile} px, overlap at least ${tiling.overlap} px (dashed cyan)`);
    else {
      lines.push("  1 tile: the ROI resized to the model's input");
      const aspect = Math.max(r.width, r.height) / Math.min(r.width, r.height);
      if (aspect > STRETCH_NOTE) lines.push(`  note: the ROI is ${aspect.toFixed(1)}:1, so resize stretches it; grid tiles as tall as its short side keep defects their shape`);
    }
  }
  return `${lines.join("\n")}\n`;
}
