/**
 * The files of `linewatch eval --out DIR`: metrics.json, curves.json, report.md, curves.png,
 * worst.png and scores.csv.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fmt, renderCurves } from "./curvesPlot.js";
import type { EvalMetrics, Evaluation, ImageResult, MetricSet, Thresholds } from "./metrics.js";
import { budgetText, type OperatingPoint, type OperatingPoints, type Rate } from "./operatingPoints.js";
import { PRO_FPR_LIMIT } from "./proCurve.js";
import { type BaselineComparison, scoresCsv } from "./scoresFile.js";
import { renderWorstGrid, worstCases } from "./worstGrid.js";

/** What was evaluated, for the record. */
export interface ReportMeta {
  /** Model folder or name. */
  model: string;
  /** Dataset folder. */
  dataset: string;
  /** Few-shot references drawn from train/good (0 = none). */
  shots: number;
  /** Seed of the reference draw. */
  seed: number;
  /** The model's shipped thresholds used for the IoUs, calibrated units. */
  thresholds: Thresholds;
  /** Kind of few-shot reference: "features", "map-stats", or "none". */
  reference?: string;
  /** The comparison with an earlier run's scores.csv (--baseline). */
  baseline?: BaselineComparison;
}

/** The JSON object of `--json` and metrics.json: every metric, then what was evaluated. */
export type ReportJson = EvalMetrics & {
  /** Whether pixel metrics were measured (false: image labels only, see Evaluation). */
  pixel_truth: boolean;
  model: string;
  dataset: string;
  shots: number;
  seed: number;
  reference: string;
  threshold_image: number;
  threshold_pixel: number;
  baseline?: BaselineComparison;
};

/** Paths of the files written. */
export interface ReportFiles {
  metrics_json: string;
  curves_json: string;
  report_md: string;
  curves_png: string;
  worst_png: string;
  scores_csv: string;
}

/** Options of writeReport. */
export interface ReportOptions {
  /** Rows of each kind in worst.png. Defaults to 6. */
  worst?: number;
}

/**
 * The object to print for `--json` and to write as metrics.json (NaN metrics become null
 * through JSON.stringify).
 */
export function reportJson(evaluation: Evaluation, meta: ReportMeta): ReportJson {
  return {
    ...evaluation.metrics,
    pixel_truth: evaluation.pixel_truth,
    model: meta.model,
    dataset: meta.dataset,
    shots: meta.shots,
    seed: meta.seed,
    reference: meta.reference ?? (meta.shots > 0 ? "map-stats" : "none"),
    threshold_image: meta.thresholds.image,
    threshold_pixel: meta.thresholds.pixel,
    ...(meta.baseline ? { baseline: meta.baseline } : {}),
  };
}

function row(name: string, m: MetricSet): string {
  const cells = [m.image_auroc, m.pixel_auroc, m.aupro, m.image_f1_max, m.pixel_f1_max, m.iou_normal, m.iou_anomalous].map(fmt);
  const within = ([lo, hi]: [number, number]) => (Number.isNaN(lo) ? "n/a" : `${fmt(lo)}-${fmt(hi)}`);
  return `| ${name} | ${m.images} | ${cells.join(" | ")} | ${[m.image_auroc_ci95, m.pixel_auroc_ci95, m.aupro_ci95].map(within).join(" | ")} |`;
}

function baselineLines(b: BaselineComparison | undefined): string[] {
  if (!b) return [];
  const cell = (name: string, d: BaselineComparison["image_auroc"]) =>
    `| ${name} | ${fmt(d.baseline)} | ${fmt(d.difference)} | ${fmt(d.interval[0])} to ${fmt(d.interval[1])} | ${(100 * d.share_not_better).toFixed(1)} % |`;
  return [
    `## Against \`${b.file}\``,
    ``,
    `This run minus the baseline, the same images paired (bootstrap.ts, 2000 resamples).`,
    ``,
    `| set | baseline | difference | paired 95 % | resamples not better |`,
    `| --- | ---: | ---: | ---: | ---: |`,
    ...(b.aupro ? [cell("AUPRO, all", b.aupro)] : []),
    cell("image AUROC, **all**", b.image_auroc),
    ...Object.entries(b.per_type).map(([t, d]) => cell(`image AUROC, ${t} + good`, d)),
    ...Object.entries(b.per_type_aupro ?? {}).map(([t, d]) => cell(`AUPRO, ${t} + good`, d)),
    ...b.catch_at_budget.map((c) => cell(`defects caught at good failed <= ${budgetText(c.budget)}`, c)),
    ``,
    ...(!b.aupro
      ? [`(AUPRO not compared: this run or the baseline's file has no truth-mask AUPRO part for every defective image, as with image labels only.)`, ``]
      : b.per_type_aupro
        ? []
        : [`(Per-type AUPRO not compared: the baseline's file has no type_pro_area column.)`, ``]),
  ];
}

/** A share as a percentage with one decimal. */
export function percent(v: number): string {
  return Number.isNaN(v) ? "n/a" : `${(100 * v).toFixed(1)} %`;
}

/** An interval of shares as `lo-hi %`. */
export function percentRange([lo, hi]: readonly [number, number]): string {
  return Number.isNaN(lo) ? "n/a" : `${(100 * lo).toFixed(1)}-${(100 * hi).toFixed(1)} %`;
}

/** A difference of shares in percentage points, signed. */
export function percentPoints(v: number): string {
  return Number.isNaN(v) ? "n/a" : `${v > 0 ? "+" : ""}${(100 * v).toFixed(1)} pt`;
}

/** `count/of (share)`. */
function counted(r: Rate): string {
  return `${r.count}/${r.of} (${percent(r.rate)})`;
}

/** The section that helps a line set `cameras[].threshold`. */
function operatingPointLines(op: OperatingPoints): string[] {
  const line = (name: string, p: OperatingPoint) =>
    `| ${name} | ${p.threshold} | ${counted(p.good_failed)} | ${p.good_fail_expected_new === null ? "" : percent(p.good_fail_expected_new)} | ` +
    `${counted(p.defects_caught)} | ${percentRange(p.defects_caught.ci95)} | ` +
    `${Object.entries(p.per_type_caught).map(([t, r]) => `${t} ${r.count}/${r.of}`).join(", ")} |`;
  return [
    `## Choosing a camera's threshold`,
    ``,
    `Image-score thresholds (calibrated units, \`cameras[].threshold\`; score >= threshold fails) that fail at most`,
    `the given share of this set's good images, and the defective images failed (caught) there. A threshold`,
    `picked on a set is optimistic on it: for good parts like these, a new one fails with probability k / (n + 1)`,
    `at most, at the threshold just above the k-th highest of n good scores (expected on new parts). Catch`,
    `intervals: 95 % Wilson. Confirm a threshold on parts labelled after it was picked.`,
    ``,
    `| good failed, at most | threshold | good failed | expected on new good parts | defects caught | caught 95 % | caught per type |`,
    `| --- | ---: | ---: | ---: | ---: | ---: | --- |`,
    line("(shipped threshold)", op.shipped),
    ...op.budgets.map((p) => line(budgetText(p.good_fail_budget!), p)),
    ``,
  ];
}

/** Why an image-labels-only set has no pixel metrics. */
function imageLabelsNote(): string[] {
  return [
    `**Image labels only.** No defective image of this set has a truth mask (a set without a`,
    `\`ground_truth/\` folder, as \`linewatch archive-export\` writes operators' good/defect verdicts), so pixel AUROC,`,
    `AUPRO, pixel F1-max and IoU anomalous are not measured (n/a): they need to know which pixels are`,
    `defective, and the daemon's own predicted masks are no truth. Image AUROC and F1 rank the model on`,
    `the labels; IoU normal still counts the good images whose predicted mask is empty (false alarms cleared).`,
    `If the set is an archive export, failed and passed frames were archived at their own rates`,
    `(\`archive.interval_ms\`, \`.pass_interval_ms\`), so its shares of good parts failed are the set's, not the`,
    `line's: to read thresholds off it for the line, archive every frame (both 0 and 1) over the period labelled.`,
    ``,
  ];
}

/** report.md as text. */
export function reportMarkdown(evaluation: Evaluation, meta: ReportMeta): string {
  const m = evaluation.metrics;
  const lines = [
    `# linewatch eval`,
    ``,
    `- model: \`${meta.model}\``,
    `- dataset: \`${meta.dataset}\``,
    `- shots: ${meta.shots}, seed: ${meta.seed}`,
    `- thresholds: image ${meta.thresholds.image}, pixel ${meta.thresholds.pixel} (calibrated units)`,
    `- ${m.images} test images, ${m.ms_per_image.toFixed(1)} ms per image`,
    ``,
    `| set | images | image AUROC | pixel AUROC | AUPRO | image F1-max | pixel F1-max | IoU normal | IoU anomalous | image AUROC 95 % | pixel AUROC 95 % | AUPRO 95 % |`,
    `| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`,
    row("**all**", m),
    ...Object.entries(m.per_type).map(([t, s]) => row(`${t} + good`, s)),
    ``,
    `Definitions: AUROCs are exact (ties count 1/2). AUPRO is the area under the per-region-overlap`,
    `curve up to pixel FPR ${PRO_FPR_LIMIT}, divided by ${PRO_FPR_LIMIT} (MVTec AD; truth regions with`,
    `8-connectivity). IoU normal: share of good images whose predicted mask at the pixel threshold is`,
    `empty (empty truth: IoU 1 if the prediction is empty, else 0); normal-class IoU`,
    `(1 - flagged share) is ${fmt(m.iou_normal_pixel)}. IoU anomalous: mean per-image IoU of predicted and`,
    `true masks on defective images. Per-type rows pair each defect type with all good images.`,
    `95 % columns: percentile bootstrap intervals, 2000 resamples (image AUROC: good and defective images`,
    `drawn apart with replacement; pixel AUROC: the same, each image with all its pixels, counted in`,
    `shared score bins; AUPRO: defective images drawn with their truth regions, the FPR axis of the`,
    `full set held).`,
    `F1-max thresholds: image ${fmt(m.image_f1_threshold)}, pixel ${fmt(m.pixel_f1_threshold)}.`,
    ``,
    ...(evaluation.pixel_truth ? [] : imageLabelsNote()),
    ...operatingPointLines(m.operating_points),
    ...baselineLines(meta.baseline),
    `![ROC and PRO curves](curves.png)`,
    ``,
    `![Worst cases](worst.png)`,
    ``,
  ];
  return lines.join("\n");
}

/**
 * Write every report file into `dir` (created if needed).
 * @param results the per-image results evaluate() saw; worst.png reads their image files
 */
export async function writeReport(
  dir: string,
  evaluation: Evaluation,
  results: readonly ImageResult[],
  meta: ReportMeta,
  options: ReportOptions = {},
): Promise<ReportFiles> {
  await mkdir(dir, { recursive: true });
  const files: ReportFiles = {
    metrics_json: join(dir, "metrics.json"),
    curves_json: join(dir, "curves.json"),
    report_md: join(dir, "report.md"),
    curves_png: join(dir, "curves.png"),
    worst_png: join(dir, "worst.png"),
    scores_csv: join(dir, "scores.csv"),
  };
  const caption = `${meta.model} on ${meta.dataset}, shots ${meta.shots}, seed ${meta.seed}`;
  const [curvesPng, worstPng] = await Promise.all([
    renderCurves(evaluation.curves, evaluation.metrics, caption),
    renderWorstGrid(worstCases(results, options.worst ?? 6), meta.thresholds),
  ]);
  await Promise.all([
    writeFile(files.metrics_json, `${JSON.stringify(reportJson(evaluation, meta), null, 2)}\n`),
    writeFile(files.curves_json, `${JSON.stringify(evaluation.curves)}\n`),
    writeFile(files.report_md, reportMarkdown(evaluation, meta)),
    writeFile(files.curves_png, curvesPng),
    writeFile(files.worst_png, worstPng),
    writeFile(files.scores_csv, scoresCsv(results, meta.thresholds.image, evaluation)),
  ]);
  return files;
}
