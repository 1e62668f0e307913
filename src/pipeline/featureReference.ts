import type { Tiling } from "../config/schema.js";
import type { ModelManifest } from "../modelManifest.js";
import type { RoiFrame, Tile } from "../types.js";
import { concat } from "./featureBank.js";
import type { BankData } from "./inferProtocol.js";
import type { FeatureBatch } from "./inferenceEngine.js";
import type { InspectImage } from "./inspect.js";
import { makeTiles } from "./tile.js";

/**
 * Largest memory bank, patches. The nearest-neighbour search costs tile patches x bank x channels
 * per tile (1024 x 2048 x 64 at 256 px and features at 1/8); more good patches than this are thinned
 * by a greedy coreset, which keeps the ones that cover the others best.
 */
export const BANK_MAX = 2048;

/**
 * How the calibrated distance map joins the model's map: 1 takes the maximum of the two, a weight
 * w < 1 takes w x distance + (1 - w) x map. Chosen on a probe split, not on the test set
 * (training/feature_probe.py, README "Few-shot enrolment").
 */
export const FUSION_WEIGHT = 1;

/**
 * A few-shot reference of a camera's good parts as a memory bank of the model's own patch features
 * (PatchCore, WinCLIP+, VTFusion): a patch of a new frame scores by the distance of its feature to
 * the nearest good one, calibrated from the reference images themselves, and that map is fused
 * with the model's map in the inference worker. Unlike map statistics it needs no alignment
 * between parts: a good texture anywhere in the reference covers the same texture anywhere else.
 */
export interface FeatureReference {
  kind: "features";
  /** Good images the reference was built from. */
  shots: number;
  /** The bank, its calibration and its fusion weight, as the worker takes it. */
  bank: BankData;
  /** Thresholds to use with the reference (calibrated units: the model's own). */
  thresholds: ModelManifest["threshold"];
  /** Model the reference was built with; a reference of another model is not applied. */
  model: { name: string; version: string };
  created_at: string;
}

/** What building a feature reference needs of the inference engine. */
export interface FeatureSource {
  readonly manifest: ModelManifest;
  features(tiles: readonly Tile[]): Promise<FeatureBatch>;
  buildBank(parts: Float32Array[], dim: number, max: number): Promise<Omit<BankData, "weight">>;
}

/**
 * Builds a feature reference: every good image through the same tiles as the daemon, its patch
 * features collected in the worker's output, the bank thinned and calibrated in the worker. With
 * one image the two halves of each tile stand in for two images in the calibration.
 */
export async function buildFeatureReference(engine: FeatureSource, images: readonly InspectImage[], opts: { tiling: Tiling; batchMax: number }): Promise<FeatureReference> {
  const perImage: Float32Array[][] = [];
  const halves: Float32Array[][] = [[], []];
  let dim = 0;
  for (const [seq, image] of images.entries()) {
    const frame: RoiFrame = { camera: "enroll", seq, captured_at: 0, captured_mono: 0, ...image, roi: { x: 0, y: 0, width: image.width, height: image.height } };
    const tiles = makeTiles(frame, opts.tiling, engine.manifest.input);
    const rows: Float32Array[] = [];
    for (let i = 0; i < tiles.length; i += opts.batchMax) {
      const { features, dims } = await engine.features(tiles.slice(i, i + opts.batchMax));
      const [c, h, w] = dims;
      dim = c;
      const per = c * h * w;
      for (let t = 0; t * per < features.length; t++) {
        const f = features.subarray(t * per, (t + 1) * per);
        const left = new Float32Array(h * Math.ceil(w / 2) * c);
        const right = new Float32Array(h * Math.floor(w / 2) * c);
        let li = 0, ri = 0;
        for (let y = 0; y < h; y++) {
          for (let x = 0; x < w; x++) {
            const dst = x < Math.ceil(w / 2) ? left : right;
            const at = (x < Math.ceil(w / 2) ? li++ : ri++) * c;
            for (let k = 0; k < c; k++) dst[at + k] = f[k * h * w + y * w + x];
          }
        }
        rows.push(left, right);
        halves[0].push(left);
        halves[1].push(right);
      }
    }
    perImage.push(rows);
  }
  const parts = (images.length >= 2 ? perImage : halves).map(concat);
  const bank = await engine.buildBank(parts, dim, BANK_MAX);
  const m = engine.manifest;
  return {
    kind: "features",
    shots: images.length,
    bank: { features: bank.features, dim: bank.dim, count: bank.count, calibration: bank.calibration, weight: FUSION_WEIGHT },
    thresholds: { ...m.threshold },
    model: { name: m.name, version: m.version },
    created_at: new Date().toISOString(),
  };
}

/** The reference as JSON: the bank as base64 of its little-endian float32 values. */
export function serializeFeatureReference(ref: FeatureReference): string {
  const { features, ...bank } = ref.bank;
  const bytes = Buffer.from(features.buffer, features.byteOffset, features.byteLength);
  return JSON.stringify({ ...ref, bank: { ...bank, features_f32le: bytes.toString("base64") } });
}

/** Reads what serializeFeatureReference wrote; throws on anything malformed. */
export function parseFeatureReference(o: unknown): FeatureReference {
  const r = o as Omit<FeatureReference, "bank"> & { bank: Omit<BankData, "features"> & { features_f32le: string } };
  const b = r.bank;
  const ok =
    b &&
    Number.isInteger(b.dim) &&
    Number.isInteger(b.count) &&
    b.dim > 0 &&
    b.count > 0 &&
    typeof b.features_f32le === "string" &&
    Number.isFinite(b.calibration?.offset) &&
    b.calibration.scale > 0 &&
    Number.isFinite(b.weight) &&
    Number.isInteger(r.shots) &&
    typeof r.model?.name === "string" &&
    Number.isFinite(r.thresholds?.image) &&
    Number.isFinite(r.thresholds?.pixel);
  if (!ok) throw new Error("not a linewatch reference");
  const bytes = Buffer.from(b.features_f32le, "base64");
  if (bytes.length !== b.count * b.dim * 4) throw new Error("not a linewatch reference: the bank's size disagrees with its count and dim");
  const features = new Float32Array(b.count * b.dim);
  new Uint8Array(features.buffer).set(bytes);
  if (!features.every(Number.isFinite)) throw new Error("not a linewatch reference: the bank holds non-finite values");
  const { features_f32le: _, ...rest } = b;
  return { ...r, bank: { ...rest, features } };
}
