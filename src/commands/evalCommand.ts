import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Tiling } from "../config/schema.js";
import { drawShots, readDataset } from "../eval/dataset.js";
import { loadImage, type RawImage } from "../eval/loadImage.js";
import { budgetText, type OperatingPoint } from "../eval/operatingPoints.js";
import { percent, percentPoints, percentRange, reportJson, writeReport } from "../eval/report.js";
import { runEval } from "../eval/runEval.js";
import { type BaselineComparison, compareWithBaseline, parseScoresCsv, type ScoreRow, ScoresFileError } from "../eval/scoresFile.js";
import { InferenceEngine, ModelError } from "../pipeline/inferenceEngine.js";
import { inspectImage, type InspectImage } from "../pipeline/inspect.js";
import { buildReference, referenceWarnings, type Reference } from "../pipeline/reference.js";
import { toPixels } from "../pipeline/roiMap.js";
import { createLogger } from "../service/logger.js";
import { parseOptions, UsageError } from "./args.js";

/** `--tiling resize` or `--tiling grid:TILE:OVERLAP`. */
export function parseTiling(text: string): Tiling {
  if (text === "resize") return { mode: "resize" };
  const m = /^grid:(\d+):(\d+)$/.exec(text);
  if (!m || Number(m[2]) >= Number(m[1])) throw new UsageError(`--tiling must be 'resize' or 'grid:TILE:OVERLAP' with OVERLAP < TILE, not '${text}'`);
  return { mode: "grid", tile: Number(m[1]), overlap: Number(m[2]) };
}

/** A decoded image in the form the pipeline takes. */
export function asInspectImage(img: RawImage): InspectImage {
  return { width: img.width, height: img.height, format: img.channels === 3 ? "RGB" : "GRAY8", data: img.data };
}

/**
 * `linewatch eval --model DIR --dataset DIR [--shots K] [--seed S] [--out DIR] [--json]
 * [--baseline SCORES_CSV] [--budgets P,...]`: every test image through the daemon's own tile -> infer -> stitch ->
 * decide code, then the metrics; with --baseline, image AUROC and AUPRO against an earlier run's
 * scores.csv (from --out) image by image. A baseline of other images is reported (exit 1) after
 * this run's own metrics and report, which are kept. A dataset without ground_truth/ (image
 * labels only, e.g. from `linewatch archive-export`) gets image metrics and IoU normal; its pixel
 * metrics and AUPRO comparison are n/a.
 */
export async function evalCommand(args: string[]): Promise<number> {
  let o;
  try {
    o = parseOptions(
      args,
      {
        model: { type: "string" },
        dataset: { type: "string" },
        shots: { type: "string", default: "0" },
        seed: { type: "string", default: "0" },
        out: { type: "string" },
        json: { type: "boolean", default: false },
        tiling: { type: "string", default: "resize" },
        batch: { type: "string", default: "8" },
        threads: { type: "string", default: "0" },
        baseline: { type: "string" },
        budgets: { type: "string" },
      },
      ["model", "dataset"],
    );
  } catch (err) {
    process.stderr.write(`linewatch eval: ${(err as Error).message}\n`);
    return 2;
  }
  const shots = Number(o.shots), seed = Number(o.seed), batch = Number(o.batch), threads = Number(o.threads);
  if (![shots, seed, batch, threads].every((n) => Number.isInteger(n) && n >= 0) || batch < 1) {
    process.stderr.write("linewatch eval: --shots, --seed, --threads must be whole numbers >= 0 and --batch >= 1\n");
    return 2;
  }
  let tiling: Tiling;
  try {
    tiling = parseTiling(o.tiling!);
  } catch (err) {
    process.stderr.write(`linewatch eval: ${(err as Error).message}\n`);
    return 2;
  }
  let budgets: number[] | undefined;
  if (o.budgets !== undefined) {
    const tokens = o.budgets.split(",").map((t) => t.trim());
    budgets = tokens.map((t) => Number(t) / 100);
    if (tokens.some((t) => t === "") || !budgets.every((b) => Number.isFinite(b) && b >= 0 && b < 1)) {
      process.stderr.write(`linewatch eval: --budgets takes percentages of good parts failed, each from 0 to under 100, comma-separated (e.g. 0.5,1,2), not '${o.budgets}'\n`);
      return 2;
    }
  }
  let baseline: ScoreRow[] | null = null;
  if (o.baseline !== undefined) {
    try {
      baseline = parseScoresCsv(await readFile(resolve(o.baseline), "utf8"), o.baseline);
    } catch (err) {
      process.stderr.write(`linewatch eval: --baseline ${(err as Error).message}\n`);
      return 2;
    }
  }
  const log = createLogger("warn", process.stderr);
  let engine: InferenceEngine;
  try {
    engine = await InferenceEngine.open({ dir: resolve(o.model!), providers: [{ kind: "cpu" }], workers: 1, threads }, log);
  } catch (err) {
    if (err instanceof ModelError) {
      process.stderr.write(`linewatch eval: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  try {
    const dataset = await readDataset(resolve(o.dataset!));
    if (!dataset.pixel_truth) process.stderr.write("image labels only (no ground_truth/): pixel metrics are not computed\n");
    const m = engine.manifest;
    let reference: Reference | null = null;
    if (shots > 0) {
      const paths = drawShots(dataset.train_good, shots, seed);
      const images = await Promise.all(paths.map(async (p) => asInspectImage(await loadImage(p))));
      const t0 = performance.now();
      reference = await buildReference(engine, images, { tiling, batchMax: batch });
      const what = reference.kind === "features" ? `feature bank of ${reference.bank.count} patches` : "map statistics (the model has no features output)";
      process.stderr.write(`reference: ${shots} good image(s) drawn with seed ${seed}: ${what}, built in ${Math.round(performance.now() - t0)} ms\n`);
      for (const w of referenceWarnings(reference)) process.stderr.write(`reference warning: ${w}\n`);
    }
    const thresholds = reference?.thresholds ?? m.threshold;
    const run = await runEval(
      dataset,
      async (img) => {
        const d = await inspectImage(engine, asInspectImage(img), { tiling, batchMax: batch, reference });
        return { score: d.score, map: toPixels(d.map) };
      },
      { thresholds, budgets },
    );
    let comparison: BaselineComparison | null = null;
    let baselineError: string | null = null;
    try {
      if (baseline !== null) comparison = compareWithBaseline(run.results, run.evaluation, baseline, o.baseline!, budgets);
    } catch (err) {
      if (!(err instanceof ScoresFileError)) throw err;
      baselineError = err.message;
    }
    const meta = {
      model: `${m.name} ${m.version}`,
      dataset: resolve(o.dataset!),
      shots,
      seed,
      thresholds,
      reference: reference?.kind ?? "none",
      ...(comparison === null ? {} : { baseline: comparison }),
    };
    if (o.out) {
      const files = await writeReport(resolve(o.out), run.evaluation, run.results, meta);
      process.stderr.write(`report written: ${Object.values(files).join(", ")}\n`);
    }
    const json = reportJson(run.evaluation, meta);
    if (o.json) process.stdout.write(`${JSON.stringify(json)}\n`);
    else {
      const f = (v: number | null) => (v === null || Number.isNaN(v) ? "n/a" : v.toFixed(4));
      const ci = ([lo, hi]: [number, number]) => (Number.isNaN(lo) ? "n/a" : `${f(lo)}-${f(hi)}`);
      process.stdout.write(
        `${meta.model} on ${meta.dataset} (${json.images} images, shots ${shots}):\n` +
          `  image AUROC ${f(json.image_auroc)}  pixel AUROC ${f(json.pixel_auroc)}  AUPRO ${f(json.aupro)}\n` +
          `  image F1max ${f(json.image_f1_max)}  pixel F1max ${f(json.pixel_f1_max)}  IoU normal ${f(json.iou_normal)}  IoU anomalous ${f(json.iou_anomalous)}\n` +
          `  95 %: image AUROC ${ci(json.image_auroc_ci95)}  pixel AUROC ${ci(json.pixel_auroc_ci95)}  AUPRO ${ci(json.aupro_ci95)}\n` +
          `  ${json.ms_per_image.toFixed(1)} ms/image\n`,
      );
      const op = json.operating_points;
      const caught = (p: OperatingPoint) => `defects caught ${percent(p.defects_caught.rate)} (${percentRange(p.defects_caught.ci95)})`;
      process.stdout.write(`  shipped threshold ${op.shipped.threshold}: good failed ${percent(op.shipped.good_failed.rate)}, ${caught(op.shipped)}\n`);
      for (const p of op.budgets) {
        process.stdout.write(`  good failed at most ${budgetText(p.good_fail_budget!)}: threshold ${p.threshold}, ${caught(p)}; new good parts failed ~${percent(p.good_fail_expected_new!)}\n`);
      }
      const n = op.shipped.good_failed.of;
      if (op.budgets.some((p) => p.good_fail_budget! > 0 && p.good_fail_budget! * n < 1)) {
        process.stdout.write(`  (${n} good image(s): a budget under 1/${n} = ${budgetText(1 / n)} lets no good part fail, so it reads as 0 %; more good images resolve it)\n`);
      }
      for (const [name, b] of json.baseline ? ([["image AUROC", json.baseline.image_auroc], ["AUPRO", json.baseline.aupro]] as const) : []) {
        if (b === undefined) {
          process.stdout.write(`  ${name} against ${json.baseline!.file}: not compared (no truth-mask AUPRO part for every defective image in this run or the baseline)\n`);
          continue;
        }
        process.stdout.write(
          `  ${name} against ${json.baseline!.file} (${f(b.baseline)}): difference ${f(b.difference)}, ` +
            `paired 95 % ${f(b.interval[0])} to ${f(b.interval[1])}, not better in ${(100 * b.share_not_better).toFixed(1)} % of resamples\n`,
        );
      }
      for (const c of json.baseline?.catch_at_budget ?? []) {
        process.stdout.write(
          `  defects caught at good failed <= ${budgetText(c.budget)} against ${json.baseline!.file} (${percent(c.baseline)}): difference ${percentPoints(c.difference)}, ` +
            `paired 95 % ${percentPoints(c.interval[0])} to ${percentPoints(c.interval[1])}\n`,
        );
      }
    }
    if (baselineError !== null) {
      process.stderr.write(`linewatch eval: --baseline ${baselineError}; this run's metrics are given without it\n`);
      return 1;
    }
    return 0;
  } catch (err) {
    process.stderr.write(`linewatch eval: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await engine.close();
  }
}
