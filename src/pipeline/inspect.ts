import type { Tiling } from "../config/schema.js";
import type { Decision, PixelFormat, RoiFrame, Tile, TileMap } from "../types.js";
import { decide } from "./decide.js";
import { bankOf, type Inferencer } from "./pipeline.js";
import { applyReference, type Reference } from "./reference.js";
import { stitchMaps } from "./stitch.js";
import { makeTiles } from "./tile.js";

/** An image to inspect: tightly packed RGB or GRAY8 pixels. */
export interface InspectImage {
  width: number;
  height: number;
  format: PixelFormat;
  data: Uint8Array;
}

/**
 * Runs one image through the daemon's own tile -> infer -> stitch -> decide code, in batches of at
 * most `batchMax` tiles, without the streaming machinery. Used by `linewatch eval` and enrolment.
 */
export async function inspectImage(
  engine: Inferencer,
  image: InspectImage,
  opts: { tiling: Tiling; batchMax: number; imageThreshold?: number; camera?: string; seq?: number; reference?: Reference | null },
): Promise<Decision> {
  const now = Date.now();
  const frame: RoiFrame = {
    camera: opts.camera ?? "eval",
    seq: opts.seq ?? 0,
    captured_at: now,
    captured_mono: performance.now(),
    ...image,
    roi: { x: 0, y: 0, width: image.width, height: image.height },
  };
  const tiles = makeTiles(frame, opts.tiling, engine.manifest.input);
  const bank = bankOf(engine, opts.reference);
  if (bank) for (const t of tiles) t.bank = bank;
  const maps: TileMap[] = [];
  for (let i = 0; i < tiles.length; i += opts.batchMax) {
    const batch: Tile[] = tiles.slice(i, i + opts.batchMax);
    maps.push(...(await engine.run(batch)).maps);
  }
  const scores = maps.map((m) => m.score).filter((s): s is number => s !== undefined);
  const map = stitchMaps(maps, image.width, image.height);
  if (opts.reference) applyReference(opts.reference, map.data, map.width, map.height);
  return decide(frame, map, {
    imageThreshold: opts.imageThreshold ?? engine.manifest.threshold.image,
    pixelThreshold: engine.manifest.threshold.pixel,
    // With a reference the map is what counts: a score head knows nothing of the line's normal.
    score: scores.length && !opts.reference ? Math.max(...scores) : undefined,
  });
}
