/**
 * scores.csv of `linewatch eval --out`: one row per test image (type, name, image score,
 * verdict, and for a defective image its part of AUPRO: the summed PRO areas of its truth
 * regions and how many), and the paired comparison `--baseline` makes against an earlier run's file.
 *
 * Why: "is the new model better?" is a question about the same images scored twice. Read
 * against each other image by image, two models' AUROCs differ with a much narrower
 * interval than either has alone, because which images are hard is shared (bootstrap.ts).
 */
import { auproOf, type ImagePro, pairedAurocDifference, type PairedDifference, pairedProDifference, rankAuroc } from "./bootstrap.js";
import type { ImageResult } from "./metrics.js";

/** One row of scores.csv. */
export interface ScoreRow {
  /** Test folder: "good" or a defect type. */
  type: string;
  /** File name without extension. */
  name: string;
  /** Image anomaly score, calibrated units. */
  score: number;
  /** A defective image's part of AUPRO; null for a good image. */
  pro: ImagePro | null;
}

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

const HEADER = "type,name,score,verdict,pro_area,regions";

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
 * @param imagePro each defective image's part of AUPRO (Evaluation.image_pro)
 */
export function scoresCsv(results: readonly ImageResult[], imageThreshold: number, imagePro: ReadonlyMap<ImageResult, ImagePro>): string {
  const rows = results.map((r) => {
    const p = imagePro.get(r);
    return [field(r.type), field(r.name), String(r.score), r.score >= imageThreshold ? "fail" : "pass", p ? String(p.area) : "", p ? String(p.regions) : ""].join(",");
  });
  return `${[HEADER, ...rows].join("\n")}\n`;
}

/** Read scores.csv text; throws ScoresFileError naming the line of any problem. */
export function parseScoresCsv(text: string, file: string): ScoreRow[] {
  const lines = text.split(/\r?\n/).filter((l) => l.length > 0);
  if (lines[0] !== HEADER) throw new ScoresFileError(file, `first line must be '${HEADER}', is '${(lines[0] ?? "").slice(0, 80)}'`);
  const seen = new Set<string>();
  return lines.slice(1).map((line, k) => {
    const f = splitLine(line);
    const [score, area, regions] = [f[2], f[4], f[5]].map((v) => (v === "" || v === undefined ? NaN : Number(v)));
    const proOk = f[4] === "" ? f[5] === "" : Number.isFinite(area) && Number.isInteger(regions) && regions >= 0;
    if (f.length !== 6 || !Number.isFinite(score) || !proOk) {
      throw new ScoresFileError(file, `line ${k + 2}: want ${HEADER} (a finite score; pro_area and regions numbers or both empty), got '${line.slice(0, 80)}'`);
    }
    const key = keyOf({ type: f[0], name: f[1] });
    if (seen.has(key)) throw new ScoresFileError(file, `line ${k + 2}: ${key} appears twice`);
    seen.add(key);
    return { type: f[0], name: f[1], score, pro: f[4] === "" ? null : { area, regions } };
  });
}

/** The current run against a baseline, overall and per defect type (each type with all good images). */
export interface BaselineComparison {
  /** The baseline's scores.csv. */
  file: string;
  /** Image AUROC of this run minus the baseline's, with its paired 95 % interval. */
  image_auroc: PairedDifference & { baseline: number };
  /** AUPRO of this run minus the baseline's (each on its own FPR axis), paired over defective images. */
  aupro: PairedDifference & { baseline: number };
  /** The same per defect type. */
  per_type: Record<string, PairedDifference & { baseline: number }>;
}

/**
 * Pair this run's image scores with a baseline's (same type/name) and compare image AUROC
 * (overall and per type) and AUPRO.
 * Throws ScoresFileError when the two runs did not score the same images.
 */
export function compareWithBaseline(
  results: readonly ImageResult[],
  imagePro: ReadonlyMap<ImageResult, ImagePro>,
  baseline: readonly ScoreRow[],
  file: string,
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
  const good = results.filter((r) => r.mask === null);
  const bad = results.filter((r) => r.mask !== null);
  const compare = (defective: readonly ImageResult[]) => {
    const mine = { pos: defective.map((r) => r.score), neg: good.map((r) => r.score) };
    const theirs = { pos: defective.map((r) => theirRow(r).score), neg: good.map((r) => theirRow(r).score) };
    return { ...pairedAurocDifference(mine, theirs), baseline: rankAuroc(theirs.pos, theirs.neg) };
  };
  const per_type: BaselineComparison["per_type"] = {};
  for (const t of [...new Set(bad.map((r) => r.type))].sort()) per_type[t] = compare(bad.filter((r) => r.type === t));
  const mine = bad.map((r) => imagePro.get(r) ?? { area: 0, regions: 0 });
  const theirs = bad.map((r) => theirRow(r).pro ?? { area: 0, regions: 0 });
  const aupro = { ...pairedProDifference(mine, theirs), baseline: auproOf(theirs) };
  return { file, image_auroc: compare(bad), aupro, per_type };
}
