/**
 * The metrics of `linewatch eval`, from per-image scores and maps. All rank metrics are exact
 * (every distinct score is a threshold; see rocCurve.ts); pixel sets are sorted once per group
 * (good images, each defect type) and merged, so per-type metrics cost no extra sort.
 * Cost: about 7 s and 0.5 GB for 27 Mpx (300 images of 300x300 px) on one shared core, plus
 * about 4 s for the bootstrap intervals (counting every pixel into bins, pixelBootstrap.ts).
 * A set labelled per image only (no truth masks, dataset.ts) gets the image metrics and the good
 * images' IoUs; its pixel metrics are NaN and no pixel is sorted.
 */
import { aurocInterval, type ImagePro, type Interval, proInterval, regionProAreas } from "./bootstrap.js";
import { GOOD_FAIL_BUDGETS, operatingPoints, type OperatingPoints } from "./operatingPoints.js";
import { binEdges, PixelPairs } from "./pixelBootstrap.js";
import { buildGroup, concatGroups, type Group } from "./pixelGroup.js";
import { proCurve } from "./proCurve.js";
import { Curve, mergeSorted, rocCurve, sortedScores } from "./rocCurve.js";

/** What the pipeline produced for one test image. */
export interface ImageResult {
  /** Test folder: "good" or a defect type. */
  type: string;
  /** File name without extension. */
  name: string;
  /** Image file (for the worst-case grid). */
  path: string;
  /** Image anomaly score, calibrated units (the model's image threshold applies). */
  score: number;
  /** Anomaly map at image resolution, width * height values, row-major, calibrated units. */
  map: Float32Array;
  /** Whether the image shows a defect (its label; decides good vs defective everywhere). */
  defective: boolean;
  /** Truth mask (1 = defect) of the same size; null for a good image and for a defective one labelled per image only. */
  mask: Uint8Array | null;
  /** Width, px. */
  width: number;
  /** Height, px. */
  height: number;
}

/** The model's shipped thresholds, calibrated units (score >= threshold is a defect). */
export interface Thresholds {
  /** On the image score. */
  image: number;
  /** On map values. */
  pixel: number;
}

/**
 * One set of metrics; every value is 0..1 except counts. NaN (null in JSON) where undefined,
 * which for a set without truth masks is every pixel metric but the good images' IoUs.
 */
export interface MetricSet {
  /** Test images in the set. */
  images: number;
  /** AUROC of image scores, good vs defective. */
  image_auroc: number;
  /** 95 % bootstrap interval of image_auroc (good and defective images resampled apart; bootstrap.ts). */
  image_auroc_ci95: Interval;
  /** AUROC of map values over every pixel of every image in the set, truth mask as label. */
  pixel_auroc: number;
  /** 95 % bootstrap interval of pixel_auroc (images resampled with all their pixels; pixelBootstrap.ts). */
  pixel_auroc_ci95: Interval;
  /** Normalised area under the PRO curve to FPR 0.3 (MVTec AD definition, see proCurve.ts). */
  aupro: number;
  /** 95 % bootstrap interval of aupro (defective images resampled, the FPR axis held; bootstrap.ts). */
  aupro_ci95: Interval;
  /** Best F1 of defective-vs-good over image-score thresholds. */
  image_f1_max: number;
  /** Best F1 of defect pixels over map thresholds, all pixels pooled. */
  pixel_f1_max: number;
  /**
   * IoU on good images at the shipped pixel threshold, following the empty-target rule of
   * generalized referring segmentation (GRES, Liu et al. CVPR 2023) that LMM segmenters such as
   * AG-VAS inherit: a good image's truth is empty, so its IoU is 1 when the predicted mask is
   * empty too and 0 otherwise (any flagged pixel makes the intersection 0 while the union is
   * not). Mean over good images = the share of good parts the mask rejects cleanly. The
   * normal-class IoU (1 - flagged share) is iou_normal_pixel.
   */
  iou_normal: number;
  /** Mean over good images of the normal-class IoU, 1 - (flagged pixels / pixels). */
  iou_normal_pixel: number;
  /** Mean over defective images of |pred AND truth| / |pred OR truth| at the shipped pixel threshold. */
  iou_anomalous: number;
  /** Image-score threshold that reaches image_f1_max, calibrated units. */
  image_f1_threshold: number;
  /** Map threshold that reaches pixel_f1_max, calibrated units. */
  pixel_f1_threshold: number;
}

/** Everything `linewatch eval --json` prints. */
export interface EvalMetrics extends MetricSet {
  /** Mean wall time per image through the pipeline, ms (as measured by the caller). */
  ms_per_image: number;
  /** Each defect type against all good images. */
  per_type: Record<string, MetricSet>;
  /** Image thresholds for budgets of good parts failed, and the shipped one's rates (operatingPoints.ts). */
  operating_points: OperatingPoints;
}

/** Curves for plotting, overall. */
export interface EvalCurves {
  /** Image-level ROC (x = FPR, y = TPR). */
  image_roc: Curve;
  /** Pixel-level ROC. */
  pixel_roc: Curve;
  /** PRO curve (x = pixel FPR, y = PRO) over the whole FPR range. */
  pro: Curve;
}

/** Result of evaluate(). */
export interface Evaluation {
  metrics: EvalMetrics;
  /**
   * Whether the defective images have truth masks, so that pixel metrics are measured; false
   * for a set labelled per image only, and for a set with no defective image.
   */
  pixel_truth: boolean;
  curves: EvalCurves;
  /** Each defective image's part of the overall AUPRO (bootstrap.ts), keyed by its result. */
  image_pro: Map<ImageResult, ImagePro>;
  /** Each defective image's part of its own type's AUPRO (that type's set has its own FPR axis). */
  type_pro: Map<ImageResult, ImagePro>;
}

function mean(v: readonly number[]): number {
  return v.length === 0 ? NaN : v.reduce((a, b) => a + b, 0) / v.length;
}

function checkResult(r: ImageResult): void {
  const n = r.width * r.height;
  const what = `${r.type}/${r.name}`;
  if (r.map.length !== n) throw new RangeError(`${what}: map has ${r.map.length} values, image is ${r.width}x${r.height}`);
  if (r.mask !== null && r.mask.length !== n) throw new RangeError(`${what}: mask has ${r.mask.length} values, image is ${r.width}x${r.height}`);
  if (r.mask !== null && !r.defective) throw new RangeError(`${what}: a good image with a truth mask`);
  if (!Number.isFinite(r.score)) throw new RangeError(`${what}: image score ${r.score}`);
}

/**
 * Whether pixel metrics apply: every defective image has a mask (true) or none has (false).
 * Throws RangeError on a mix, which would make pixel metrics describe an arbitrary subset.
 */
function hasPixelTruth(results: readonly ImageResult[]): boolean {
  const bad = results.filter((r) => r.defective);
  const bare = bad.filter((r) => r.mask === null);
  if (bare.length > 0 && bare.length < bad.length) {
    const named = bare.slice(0, 3).map((r) => `${r.type}/${r.name}`).join(", ");
    throw new RangeError(
      `${bare.length} of ${bad.length} defective images have no truth mask (${named}${bare.length > 3 ? ", ..." : ""}): ` +
        "give every defective image a mask, or none (image labels only)",
    );
  }
  return bad.length > 0 && bare.length === 0;
}

/** The image metrics of a set, with the good images' IoUs; every pixel metric NaN, pixel curves empty. */
function imageSet(good: Group, bad: Group): { set: MetricSet; curves: EvalCurves; imagePro: Map<ImageResult, ImagePro> } {
  const image = rocCurve(sortedScores(bad.scores, "image scores"), sortedScores(good.scores, "image scores"));
  const set: MetricSet = {
    images: good.images + bad.images,
    image_auroc: image.auroc,
    image_auroc_ci95: aurocInterval(bad.scores, good.scores),
    pixel_auroc: NaN,
    pixel_auroc_ci95: [NaN, NaN],
    aupro: NaN,
    aupro_ci95: [NaN, NaN],
    image_f1_max: image.f1_max,
    pixel_f1_max: NaN,
    iou_normal: mean(good.iouNormal),
    iou_normal_pixel: mean(good.iouNormalPixel),
    iou_anomalous: NaN,
    image_f1_threshold: image.f1_threshold,
    pixel_f1_threshold: NaN,
  };
  return { set, curves: { image_roc: image.curve, pixel_roc: { x: [], y: [] }, pro: { x: [], y: [] } }, imagePro: new Map() };
}

/** Every metric of a set with truth masks (imageSet's, then the pixel ones). */
function metricSet(good: Group, bad: Group, regionSize: readonly number[], pixelPairs: PixelPairs): { set: MetricSet; curves: EvalCurves; imagePro: Map<ImageResult, ImagePro> } {
  const { set: imageOnly, curves: imageCurves } = imageSet(good, bad);
  const neg = mergeSorted(good.neg, bad.neg);
  const pixel = rocCurve(bad.pos, neg);
  const pro = proCurve(bad.packed, neg, regionSize, bad.regions);
  const areas = regionProAreas(bad.packed, neg, regionSize);
  const imagePro = new Map<ImageResult, ImagePro>();
  for (const { result, start, count } of bad.spans) {
    let area = 0;
    for (let id = start; id < start + count; id++) area += areas.get(id) ?? 0;
    imagePro.set(result, { area, regions: count });
  }
  const set: MetricSet = {
    ...imageOnly,
    pixel_auroc: pixel.auroc,
    pixel_auroc_ci95: pixelPairs.interval(good.results, bad.results),
    aupro: pro.aupro,
    aupro_ci95: proInterval([...imagePro.values()]),
    pixel_f1_max: pixel.f1_max,
    iou_anomalous: mean(bad.iouAnomalous),
    pixel_f1_threshold: pixel.f1_threshold,
  };
  return { set, curves: { image_roc: imageCurves.image_roc, pixel_roc: pixel.curve, pro: pro.curve }, imagePro };
}

/**
 * Compute every metric and curve. An image is good or defective by its `defective` label (a
 * defective image with an all-zero mask still counts for image metrics and adds no region);
 * per-type sets are each defect type's images with all good images. Either every defective image
 * has a mask or none has (image labels only: pixel metrics NaN); a mix throws RangeError.
 * @param results one per test image; maps are read, never kept
 * @param thresholds the model's shipped thresholds (for the IoUs)
 * @param ms_per_image passed through into the metrics, ms
 * @param budgets shares of good parts failed to give operating points for (operatingPoints.ts)
 */
export function evaluate(results: readonly ImageResult[], thresholds: Thresholds, ms_per_image: number, budgets: readonly number[] = GOOD_FAIL_BUDGETS): Evaluation {
  results.forEach(checkResult);
  const pixel_truth = hasPixelTruth(results);
  const regionSize: number[] = [];
  const group = (rs: ImageResult[]) => buildGroup(rs, thresholds.pixel, regionSize, pixel_truth);
  const good = group(results.filter((r) => !r.defective));
  const types = [...new Set(results.filter((r) => r.defective).map((r) => r.type))].sort();
  const byType = types.map((t) => group(results.filter((r) => r.defective && r.type === t)));
  const bad = concatGroups([group([]), ...byType]);
  const pixelPairs = pixel_truth ? new PixelPairs(good.results, bad.results, binEdges([good.neg, bad.neg, bad.pos])) : null;
  const setOf = (g: Group) => (pixelPairs === null ? imageSet(good, g) : metricSet(good, g, regionSize, pixelPairs));
  const per_type: Record<string, MetricSet> = {};
  const type_pro = new Map<ImageResult, ImagePro>();
  types.forEach((t, i) => {
    const { set, imagePro } = setOf(byType[i]);
    per_type[t] = set;
    for (const [r, p] of imagePro) type_pro.set(r, p);
  });
  const all = setOf(bad);
  const operating_points = operatingPoints(results, thresholds.image, budgets);
  return { metrics: { ...all.set, ms_per_image, per_type, operating_points }, pixel_truth, curves: all.curves, image_pro: all.imagePro, type_pro };
}
