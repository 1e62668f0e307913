/**
 * Reading an evaluation set laid out as MVTec AD lays out one category:
 *
 * ```
 * ROOT/train/good/*.png|jpg|jpeg|bmp            normal images (training, few-shot references)
 * ROOT/test/<type>/<name>.png|jpg|jpeg|bmp      test images; <type> "good" is defect-free
 * ROOT/ground_truth/<type>/<name>_mask.png      truth mask of every defective test image
 * ```
 *
 * A set with no ground_truth/ folder at all is labelled per image only (as `linewatch
 * archive-export` writes operators' verdicts: test/good and test/<defect type>): its images are
 * still good or defective by folder, but no image has a truth mask, so only image metrics apply.
 */
import { readdir, stat } from "node:fs/promises";
import { extname, join } from "node:path";
import sharp from "sharp";
import { imageSize } from "./loadImage.js";

/** The defect-free test type. */
export const GOOD_TYPE = "good";

const IMAGE_EXTENSIONS = new Set([".png", ".jpg", ".jpeg", ".bmp"]);

/** One test image. */
export interface EvalSample {
  /** Folder under test/: "good" or a defect type. */
  type: string;
  /** File name without extension. */
  name: string;
  /** Image file. */
  path: string;
  /** Whether the image shows a defect (type is not "good"). */
  defective: boolean;
  /** Truth mask file; null for a good image and for every image of an image-labels-only set. */
  mask_path: string | null;
}

/** A dataset as listed on disk (nothing decoded yet). */
export interface EvalDataset {
  /** The dataset folder. */
  root: string;
  /** train/good images, sorted by file name; empty when the set has no train/good. */
  train_good: string[];
  /** Test images, by type then file name; "good" first. */
  test: EvalSample[];
  /** Defect types (test folders other than "good"), sorted. */
  defect_types: string[];
  /** Whether defective images have truth masks: false when the set has no ground_truth/ folder (image labels only). */
  pixel_truth: boolean;
}

/** A truth mask: 1 = defect, 0 = normal. */
export interface TruthMask {
  /** width * height values, row-major. */
  data: Uint8Array;
  /** Width, px. */
  width: number;
  /** Height, px. */
  height: number;
}

/** A dataset that does not follow the layout, or a file in it that does not fit. */
export class DatasetError extends Error {
  /** The file or folder at fault. */
  readonly path: string;
  constructor(path: string, message: string) {
    super(`${path}: ${message}`);
    this.name = "DatasetError";
    this.path = path;
  }
}

/** Code-unit order: the same on every machine, whatever the locale. */
function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function listImages(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && IMAGE_EXTENSIONS.has(extname(e.name).toLowerCase()))
    .map((e) => e.name)
    .sort(byName);
}

/**
 * List a dataset. Throws DatasetError when the root or test/ is missing, test/ holds no image,
 * or, in a set with a ground_truth/ folder, a defective image has no mask file. Without
 * ground_truth/ the set is image-labels-only (pixel_truth false, every mask_path null).
 * @param root the dataset folder (one category)
 */
export async function readDataset(root: string): Promise<EvalDataset> {
  if (!(await isDir(root))) throw new DatasetError(root, "dataset folder not found");
  const testDir = join(root, "test");
  if (!(await isDir(testDir))) throw new DatasetError(testDir, "no test/ folder (expected the MVTec AD layout)");
  const trainDir = join(root, "train", GOOD_TYPE);
  const train_good = (await isDir(trainDir)) ? (await listImages(trainDir)).map((f) => join(trainDir, f)) : [];

  const types = (await readdir(testDir, { withFileTypes: true }))
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort((a, b) => (a === GOOD_TYPE ? -1 : b === GOOD_TYPE ? 1 : byName(a, b)));
  const pixel_truth = await isDir(join(root, "ground_truth"));
  const test: EvalSample[] = [];
  for (const type of types) {
    const dir = join(testDir, type);
    const gtDir = join(root, "ground_truth", type);
    const defective = type !== GOOD_TYPE;
    const masked = defective && pixel_truth;
    if (masked && !(await isDir(gtDir))) throw new DatasetError(gtDir, `no truth masks for defect type "${type}"`);
    const gtFiles = masked ? new Set(await readdir(gtDir)) : new Set<string>();
    for (const file of await listImages(dir)) {
      const name = file.slice(0, file.length - extname(file).length);
      let mask_path: string | null = null;
      if (masked) {
        const maskFile = `${name}_mask.png`;
        if (!gtFiles.has(maskFile)) throw new DatasetError(join(gtDir, maskFile), `missing mask of ${join(dir, file)}`);
        mask_path = join(gtDir, maskFile);
      }
      test.push({ type, name, path: join(dir, file), defective, mask_path });
    }
  }
  if (test.length === 0) throw new DatasetError(testDir, "no test images");
  return { root, train_good, test, defect_types: types.filter((t) => t !== GOOD_TYPE), pixel_truth };
}

/**
 * Load a sample's truth mask as binary (mask value > 127 -> 1), checking that it has its
 * image's size. Null for a sample without one (a good image, or any of an image-labels-only set).
 */
export async function loadMask(sample: EvalSample): Promise<TruthMask | null> {
  if (sample.mask_path === null) return null;
  const { data, info } = await sharp(sample.mask_path).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
  const img = await imageSize(sample.path);
  if (info.width !== img.width || info.height !== img.height) {
    throw new DatasetError(
      sample.mask_path,
      `mask is ${info.width}x${info.height} px but its image ${sample.path} is ${img.width}x${img.height} px`,
    );
  }
  const out = new Uint8Array(info.width * info.height);
  for (let i = 0; i < out.length; i++) out[i] = data[i] > 127 ? 1 : 0;
  return { data: out, width: info.width, height: info.height };
}

/**
 * splitmix32: a small, well-mixed 32-bit PRNG, so draws are the same on every platform
 * and Node version (Math.random cannot be seeded).
 * @returns a function giving uniform floats in [0, 1)
 */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
  };
}

/**
 * Draw k few-shot reference images from train/good, without replacement. The same list and
 * seed give the same draw, in draw order (a partial Fisher-Yates shuffle of the sorted list).
 * @param trainGood train/good paths (sorted first, so the listing order does not matter)
 * @param k number of references; 0 gives []
 * @param seed any integer
 */
export function drawShots(trainGood: readonly string[], k: number, seed: number): string[] {
  if (!Number.isInteger(k) || k < 0) throw new RangeError(`shots must be a non-negative integer, got ${k}`);
  if (k > trainGood.length) {
    throw new DatasetError("train/good", `${k} shots asked for but train/good holds ${trainGood.length} images`);
  }
  const pool = [...trainGood].sort(byName);
  const rand = seededRandom(seed);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rand() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return pool.slice(0, k);
}
