/**
 * The evaluation loop: every test image of a dataset through a caller-given inference function,
 * then the metrics. The CLI supplies `infer` (the daemon's ROI/tile/infer/stitch/decide path);
 * this module owns decoding, masks, timing and progress.
 */
import { loadMask, type EvalDataset, type EvalSample } from "./dataset.js";
import { loadImage, type RawImage } from "./loadImage.js";
import { evaluate, type Evaluation, type ImageResult, type Thresholds } from "./metrics.js";
import { ProgressReporter, type ProgressSink } from "./progress.js";

/** What the pipeline returns for one image. */
export interface InferOutput {
  /** Image anomaly score, calibrated units. */
  score: number;
  /** Anomaly map at the image's own resolution (image.width * image.height), calibrated units. */
  map: Float32Array;
}

/** Runs one decoded image through the pipeline. */
export type InferImage = (image: RawImage, sample: EvalSample) => Promise<InferOutput>;

/** Options of runEval. */
export interface RunEvalOptions {
  /** The model's shipped thresholds (for the IoUs). */
  thresholds: Thresholds;
  /** Where progress lines go; null for none. Defaults to process.stderr. */
  progress?: ProgressSink | null;
  /** Shares of good parts failed to give operating points for (0..1); defaults to GOOD_FAIL_BUDGETS. */
  budgets?: readonly number[];
}

/** Output of runEval: the per-image results (for the report's worst cases) and the metrics. */
export interface EvalRun {
  results: ImageResult[];
  evaluation: Evaluation;
}

/**
 * Evaluate a model on a dataset, one image at a time in dataset order. ms_per_image is the
 * mean wall time of `infer` alone (decoding and mask loading excluded), ms.
 * Throws when `infer` returns a map of the wrong size.
 */
export async function runEval(dataset: EvalDataset, infer: InferImage, options: RunEvalOptions): Promise<EvalRun> {
  const sink = options.progress === undefined ? process.stderr : options.progress;
  const progress = sink === null ? null : new ProgressReporter(dataset.test.length, { sink });
  const results: ImageResult[] = [];
  let inferMs = 0;
  for (const sample of dataset.test) {
    const [image, mask] = await Promise.all([loadImage(sample.path), loadMask(sample)]);
    const t0 = performance.now();
    const out = await infer(image, sample);
    inferMs += performance.now() - t0;
    if (out.map.length !== image.width * image.height) {
      throw new RangeError(`${sample.path}: map has ${out.map.length} values, image is ${image.width}x${image.height}`);
    }
    results.push({
      type: sample.type,
      name: sample.name,
      path: sample.path,
      score: out.score,
      map: out.map,
      defective: sample.defective,
      mask: mask === null ? null : mask.data,
      width: image.width,
      height: image.height,
    });
    progress?.tick();
  }
  progress?.finish();
  const ms = results.length > 0 ? inferMs / results.length : NaN;
  return { results, evaluation: evaluate(results, options.thresholds, ms, options.budgets) };
}
