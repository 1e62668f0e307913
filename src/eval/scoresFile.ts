/**
 * scores.csv of `linewatch eval --out`: one row per test image (type, name, image score,
 * verdict, and for a defective image its part of AUPRO: the summed PRO areas of its truth
 * regions and how many, overall and within its own type's set), and the paired comparison
 * `--baseline` makes against an earlier run's file (files written before the per-type column
 * are still read; their per-type AUPRO is not compared). A set labelled per image only leaves
 * the pro columns of every row empty, so the file alone does not tell good from defective: the
 * comparison takes that from this run's results, and compares image AUROC only.
 *
 * Why: "is the new model better?" is a question about the same images scored twice. Read
 * against each other image by image, two models' AUROCs differ with a much narrower
 * interval than either has alone, because which images are hard is shared (bootstrap.ts).
 */
import { auproOf, catchAtBudget, type ImagePro, pairedAurocDifference, pairedCatchDifference, type PairedDifference, pairedProDifference, rankAuroc } from "./bootstrap.js";
import type { Evaluation, ImageResult } from "./metrics.js";
import { GOOD_FAIL_BUDGETS } from "./operatingPoints.js";

/** One row of scores.csv. */
export interface ScoreRow {
  /** Test folder: "good" or a defect type. */
  type: string;
  /** File name without extension. */
  name: string;
  /** Image anomaly score, calibrated units. */
  score: number;
  /** A defective image's part of AUPRO; null for a good image or one without a truth mask. */
  pro: ImagePro | null;
  /** A defective image's part of its type's AUPRO (same regions); null for a good image or an older file. */
  typeProArea: number | null;
}

/** Each defective image's parts of AUPRO, overall and within its type (Evaluation). */
export type ProParts = Pick<Evaluation, "image_pro" | "type_pro">;

/** A scores.csv that cannot be read or does not match the images evaluated. */
export class ScoresFileError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = "ScoresFileError";
  }
}

const HEADER = "type,name,score,verdict,pro_area,regions,type_pro_area";
/** scores.csv as written before the per-type column (session 23). */
const HEADER_WITHOUT_TYPE = "type,name,score,verdict,pro_area,regions";

/** How a test image is matched between runs: its folder and file name. */
const keyOf = (r: { type: string; name: string }) => `${r.type}/${r.name}`;

function field(v: string): string {
  return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** Split one CSV line into fields ("" quoting, as field() writes it). */
function splitLine(line: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') cur += line[++i];
      else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") out.push(cur), (cur = "");
    else cur += c;
  }
  out.push(cur);
  return out;
}

/**
 * scores.csv as text, in evaluation order.
 * @param imageThreshold the image threshold the verdict column uses, calibrated units
 * @param parts each defective image's part of AUPRO, overall and within its type
 */
export function scoresCsv(results: readonly ImageResult[], imageThreshold: number, parts: ProParts): string {
  const rows = results.map((r) => {
    const p = parts.image_pro.get(r);
    const t = parts.type_pro.get(r);
    const pro = p ? [String(p.area), String(p.regions)] : ["", ""];
    return [field(r.type), field(r.name), String(r.score), r.score >= imageThreshold ? "fail" : "pass", ...pro, t ? String(t.area) : ""].join(",");
  });
  return `${[HEADER, ...rows].join("\n")}\n`;
}

/** Read scores.csv text; throws ScoresFileError naming the line of any problem. */
export function parseScoresCsv(text: string, file: string): ScoreRow[] {
  const lines = text.split(/\r?\n/).filter((l) => l.length > 0);
  const header = lines[0] ?? "";
  if (header !== HEADER && header !== HEADER_WITHOUT_TYPE) {
    throw new ScoresFileError(file, `first line must be '${HEADER}' (or the older '${HEADER_WITHOUT_TYPE}'), is '${header.slice(0, 80)}'`);
  }
  const width = header.split(",").length;
  const seen = new Set<string>();
  return lines.slice(1).map((line, k) => {
    const f = splitLine(line);
    const [score, area, regions, typeArea] = [f[2], f[4], f[5], f[6]].map((v) => (v === "" || v === undefined ? NaN : Number(v)));
    const proOk = f[4] === "" ? f[5] === "" && !f[6] : Number.isFinite(area) && Number.isInteger(regions) && regions >= 0 && (width === 6 || Number.isFinite(typeArea));
    if (f.length !== width || !Number.isFinite(score) || !proOk) {
      throw new ScoresFileError(file, `line ${k + 2}: want ${header} (a finite score; the pro columns numbers or all empty), got '${line.slice(0, 80)}'`);
    }
    const key = keyOf({ type: f[0], name: f[1] });
    if (seen.has(key)) throw new ScoresFileError(file, `line ${k + 2}: ${key} appears twice`);
    seen.add(key);
    const pro = f[4] === "" ? null : { area, regions };
    return { type: f[0], name: f[1], score, pro, typeProArea: pro !== null && width === 7 ? typeArea : null };
  });
}

/** The current run against a baseline, overall and per defect type (each type with all good images). */
export interface BaselineComparison {
  /** The baseline's scores.csv. */
  file: string;
  /** Image AUROC of this run minus the baseline's, with its paired 95 % interval. */
  image_auroc: PairedDifference & { baseline: number };
  /**
   * AUPRO of this run minus the baseline's (each on its own FPR axis), paired over defective
   * images; absent when this run has no truth masks or the baseline's file lacks a defective
   * image's AUPRO part (a set labelled per image only).
   */
  aupro?: PairedDifference & { baseline: number };
  /** Image AUROC per defect type. */
  per_type: Record<string, PairedDifference & { baseline: number }>;
  /** AUPRO per defect type (each type's set on its own FPR axis); absent with aupro or when the baseline's file has no type_pro_area column. */
  per_type_aupro?: Record<string, PairedDifference & { baseline: number }>;
  /** Defects caught at each good-fail budget (each model's threshold picked on the good images), this run minus the baseline. */
  catch_at_budget: (PairedDifference & { budget: number; baseline: number })[];
}

/**
 * Pair this run's image scores with a baseline's (same type/name) and compare image AUROC and,
 * where both runs have every defective image's part of it, AUPRO, overall and per type. Good
 * and defective are this run's labels (`defective`), whatever the baseline's pro columns hold.
 * Throws ScoresFileError when the two runs did not score the same images.
 */
export function compareWithBaseline(
  results: readonly ImageResult[],
  parts: ProParts,
  baseline: readonly ScoreRow[],
  file: string,
  budgets: readonly number[] = GOOD_FAIL_BUDGETS,
): BaselineComparison {
  const rows = new Map(baseline.map((r) => [keyOf(r), r]));
  const missing = results.filter((r) => !rows.has(keyOf(r))).map(keyOf);
  if (missing.length > 0 || rows.size !== results.length) {
    throw new ScoresFileError(
      file,
      `scored other images than this run (${rows.size} rows, ${results.length} images evaluated` +
        (missing.length > 0 ? `; not in it: ${missing.slice(0, 3).join(", ")}${missing.length > 3 ? ` and ${missing.length - 3} more` : ""}` : "") +
        "): compare runs on the same dataset",
    );
  }
  const theirRow = (r: ImageResult) => rows.get(keyOf(r))!;
  const good = results.filter((r) => !r.defective);
  const bad = results.filter((r) => r.defective);
  /** This run's and the baseline's scores of these defective images and of all good ones. */
  const scored = (defective: readonly ImageResult[]) => ({
    mine: { pos: defective.map((r) => r.score), neg: good.map((r) => r.score) },
    theirs: { pos: defective.map((r) => theirRow(r).score), neg: good.map((r) => theirRow(r).score) },
  });
  const compare = (defective: readonly ImageResult[]) => {
    const { mine, theirs } = scored(defective);
    return { ...pairedAurocDifference(mine, theirs), baseline: rankAuroc(theirs.pos, theirs.neg) };
  };
  const none: ImagePro = { area: 0, regions: 0 };
  const comparePro = (defective: readonly ImageResult[], mine: (r: ImageResult) => ImagePro | undefined, theirs: (r: ImageResult) => ImagePro | null) => {
    const [a, b] = [defective.map((r) => mine(r) ?? none), defective.map((r) => theirs(r) ?? none)];
    return { ...pairedProDifference(a, b), baseline: auproOf(b) };
  };
  const types = [...new Set(bad.map((r) => r.type))].sort();
  const per_type: BaselineComparison["per_type"] = {};
  for (const t of types) per_type[t] = compare(bad.filter((r) => r.type === t));
  const { mine, theirs } = scored(bad);
  const catch_at_budget = budgets.map((budget) => ({ budget, ...pairedCatchDifference(mine, theirs, budget), baseline: catchAtBudget(theirs.pos, theirs.neg, budget) }));
  const comparison: BaselineComparison = { file, image_auroc: compare(bad), per_type, catch_at_budget };
  if (!bad.every((r) => r.mask !== null && theirRow(r).pro !== null)) return comparison;
  comparison.aupro = comparePro(bad, (r) => parts.image_pro.get(r), (r) => theirRow(r).pro);
  if (bad.every((r) => theirRow(r).typeProArea !== null)) {
    const theirType = (r: ImageResult) => ({ area: theirRow(r).typeProArea!, regions: theirRow(r).pro!.regions });
    comparison.per_type_aupro = {};
    for (const t of types) comparison.per_type_aupro[t] = comparePro(bad.filter((r) => r.type === t), (r) => parts.type_pro.get(r), theirType);
  }
  return comparison;
}
