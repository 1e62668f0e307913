import type { Tiling } from "../config/schema.js";
import type { ModelManifest } from "../modelManifest.js";
import { buildFeatureReference, parseFeatureReference, serializeFeatureReference, type FeatureReference } from "./featureReference.js";
import { inspectImage, type InspectImage } from "./inspect.js";
import type { Inferencer } from "./pipeline.js";
import { resizeBilinear } from "./resize.js";

export type { FeatureReference } from "./featureReference.js";

/** A camera's few-shot reference: a memory bank of the model's features, or map statistics. */
export type Reference = FeatureReference | MapStatsReference;

/** Side of the grid the reference statistics are kept on, in cells. */
export const REFERENCE_GRID = 32;

/**
 * A few-shot reference of a camera's good parts for a model without a features output:
 * per-position statistics of the model's calibrated
 * anomaly map over k good images, on a coarse grid in normalised ROI coordinates. Parts on a line
 * sit at the same place in the ROI, so what the model flags at the same place on every good part
 * (an edge, a fixture, a print) is the line's normal, not a defect: the reference takes it out.
 * No training and no restart: a reference is built in seconds and used by the next frame.
 */
export interface MapStatsReference {
  kind: "map-stats";
  /** Good images the reference was built from. */
  shots: number;
  grid: number;
  /** Per-cell excess over the typical level of the good maps, calibrated units, grid x grid. */
  excess: Float32Array;
  /** Thresholds to use with the reference (calibrated units, unchanged by construction). */
  thresholds: ModelManifest["threshold"];
  /** Model the reference was built with; a reference of another model is not applied. */
  model: { name: string; version: string };
  created_at: string;
}

/** Box-averages a width x height map onto a grid x grid map. */
function toGrid(map: Float32Array, width: number, height: number, grid: number): Float32Array {
  const sum = new Float64Array(grid * grid);
  const n = new Uint32Array(grid * grid);
  for (let y = 0; y < height; y++) {
    const gy = Math.min(grid - 1, Math.floor((y * grid) / height));
    for (let x = 0; x < width; x++) {
      const g = gy * grid + Math.min(grid - 1, Math.floor((x * grid) / width));
      sum[g] += map[y * width + x];
      n[g]++;
    }
  }
  const out = new Float32Array(grid * grid);
  for (let i = 0; i < out.length; i++) out[i] = n[i] ? sum[i] / n[i] : 0;
  return out;
}

function median(values: Float32Array): number {
  const s = Float32Array.from(values).sort();
  return s.length ? s[s.length >> 1] : 0;
}

/**
 * Builds a reference from good images, running them through the same code as the daemon: a
 * feature bank when the model has a features output, map statistics otherwise.
 */
export async function buildReference(engine: Inferencer, images: readonly InspectImage[], opts: { tiling: Tiling; batchMax: number }): Promise<Reference> {
  if (images.length === 0) throw new RangeError("a reference needs at least one good image");
  if (engine.manifest.outputs.features && engine.features && engine.buildBank) {
    return buildFeatureReference({ manifest: engine.manifest, features: engine.features.bind(engine), buildBank: engine.buildBank.bind(engine) }, images, opts);
  }
  return buildMapStatsReference(engine, images, opts);
}

async function buildMapStatsReference(engine: Inferencer, images: readonly InspectImage[], opts: { tiling: Tiling; batchMax: number }): Promise<MapStatsReference> {
  const grid = REFERENCE_GRID;
  const mean = new Float32Array(grid * grid);
  for (const img of images) {
    const d = await inspectImage(engine, img, { ...opts, reference: null });
    const g = toGrid(d.map.data, d.map.width, d.map.height, grid);
    for (let i = 0; i < mean.length; i++) mean[i] += g[i] / images.length;
  }
  const level = median(mean);
  const excess = mean.map((v) => v - level);
  const m = engine.manifest;
  return { kind: "map-stats", shots: images.length, grid, excess, thresholds: { ...m.threshold }, model: { name: m.name, version: m.version }, created_at: new Date().toISOString() };
}

/**
 * Subtracts the reference's per-position excess from a map of width x height values over the ROI
 * in place (bilinearly upsampled), so a pattern that every good part shows no longer counts.
 */
export function applyReference(ref: Reference, map: Float32Array, width: number, height: number): void {
  // A feature reference is fused into the tile maps in the inference worker (featureBank.ts).
  if (ref.kind !== "map-stats") return;
  const ex = resizeBilinear(ref.excess, ref.grid, ref.grid, width, height);
  for (let i = 0; i < map.length && i < ex.length; i++) map[i] -= ex[i];
}

/**
 * Warnings for the person enrolling. One good image is measured to be risky: magtile-student 0.5.0
 * with single references (seeds 0, 1, 2) failed 3 %, 5 % and 58 % of the good test images (2.4 %
 * without a reference); a feature bank calibrates on the image's two halves, which resemble each
 * other more than other good parts do, and map statistics take one part's map for the line's normal.
 */
export function referenceWarnings(ref: Pick<Reference, "shots">): string[] {
  if (ref.shots >= 2) return [];
  return ["a reference of one good image can fail many good parts (one of three single images drawn in the measurements failed 58 % of them); enrol at least 2 good parts, 4 or more where parts vary"];
}

/** The reference as JSON, for the state directory. */
export function serializeReference(ref: Reference): string {
  if (ref.kind === "features") return serializeFeatureReference(ref);
  return JSON.stringify({ ...ref, excess: Array.from(ref.excess, (v) => Math.round(v * 1e5) / 1e5) });
}

/** Reads a reference written by serializeReference; throws on anything malformed. */
export function parseReference(text: string): Reference {
  const o = JSON.parse(text) as MapStatsReference & { excess: number[] };
  if ((o as { kind: string }).kind === "features") return parseFeatureReference(o);
  if (o.kind !== "map-stats" || !Number.isInteger(o.grid) || !Array.isArray(o.excess) || o.excess.length !== o.grid * o.grid || !o.excess.every(Number.isFinite)) {
    throw new Error("not a linewatch reference");
  }
  return { ...o, excess: Float32Array.from(o.excess) };
}
