import { copyFile, mkdir, readdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { ConfigError, loadConfig } from "../config/load.js";
import { labelFolder } from "../publish/archiveLabel.js";
import { type Entry, readResult, scanArchive } from "../publish/archiveScan.js";
import { parseOptions, UsageError } from "./args.js";

/** Columns of labels.csv, one row per exported image. */
const COLUMNS = ["image", "frame_id", "camera", "captured_at", "truth", "type", "by", "note", "labelled_at", "daemon_verdict", "daemon_score", "daemon_model"] as const;

const DAY = /^\d{4}-\d{2}-\d{2}$/;

function csvField(v: string): string {
  return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/**
 * `linewatch archive-export (--config FILE | --archive DIR) --out DIR [--camera ID] [--since DAY]
 * [--until DAY]`: the archive's labelled frames as an evaluation set in the MVTec AD layout
 * without truth masks (operators label images, not pixels): `test/good/` for good parts,
 * `test/<type>/` (or `test/defect/`) for defects, each image named by its frame id, and
 * `labels.csv` with the label, who gave it and what the daemon decided. Reads the archive only,
 * so it runs beside a running daemon. `linewatch eval --dataset DIR` then ranks models on it.
 */
export async function archiveExportCommand(args: string[]): Promise<number> {
  let o;
  let dir: string;
  try {
    o = parseOptions(args, { config: { type: "string", short: "c" }, archive: { type: "string" }, out: { type: "string" }, camera: { type: "string" }, since: { type: "string" }, until: { type: "string" } }, ["out"]);
    if ((o.config === undefined) === (o.archive === undefined)) throw new UsageError("give --config FILE (its state_dir's archive) or --archive DIR, one of them");
    for (const [k, v] of [["since", o.since], ["until", o.until]] as const) if (v !== undefined && !DAY.test(v)) throw new UsageError(`--${k} must be a UTC day, YYYY-MM-DD, not '${v}'`);
    dir = o.archive !== undefined ? resolve(o.archive) : join(loadConfig(o.config!).state_dir, "archive");
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError) {
      process.stderr.write(`linewatch archive-export: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const out = resolve(o.out!);
  const existing = await readdir(out).catch((err: NodeJS.ErrnoException) => (err.code === "ENOENT" ? [] : Promise.reject(err)));
  if (existing.length > 0) {
    process.stderr.write(`linewatch archive-export: ${out} is not empty; export into a new folder (an evaluation set is not added to)\n`);
    return 2;
  }
  let scan;
  try {
    scan = await scanArchive(dir, { remove: false });
  } catch (err) {
    process.stderr.write(`linewatch archive-export: cannot read the archive ${dir}: ${(err as Error).message}\n`);
    return 1;
  }
  for (const p of scan.problems) process.stderr.write(`linewatch archive-export: skipped: ${p}\n`);
  const day = (e: Entry) => e.name.split("/")[1];
  const chosen = scan.entries.filter((e) => (o.camera === undefined || e.camera === o.camera) && (o.since === undefined || day(e) >= o.since) && (o.until === undefined || day(e) <= o.until));
  const labelled = chosen.filter((e) => e.label !== null);
  const counts = new Map<string, number>();
  const rows: string[] = [COLUMNS.join(",")];
  let exported = 0;
  for (const e of labelled) {
    const label = e.label!;
    const folder = labelFolder(label);
    const image = `test/${folder}/${e.frame_id}.jpg`;
    await mkdir(join(out, "test", folder), { recursive: true });
    try {
      await copyFile(join(dir, `${e.name}.jpg`), join(out, image));
    } catch (err) {
      // A running daemon prunes its oldest entries while this reads.
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      process.stderr.write(`linewatch archive-export: skipped: ${e.name}: its image is gone (pruned while exporting, or removed by hand)\n`);
      continue;
    }
    exported++;
    // The scan read verdict and score already; the model is only wanted here. Blanks where unreadable.
    const { model } = await readResult(join(dir, e.name));
    const verdict = e.verdict === "unknown" ? "" : e.verdict;
    const values = [image, e.frame_id, e.camera, new Date(e.captured_at).toISOString(), label.truth, label.type ?? "", label.by ?? "", label.note ?? "", label.at, verdict, e.score === null ? "" : String(e.score), model ?? ""];
    rows.push(values.map(csvField).join(","));
    counts.set(folder, (counts.get(folder) ?? 0) + 1);
  }
  if (exported === 0) {
    const why = labelled.length === 0 ? "is labelled (label them with label/set on MQTT)" : `could be copied (the ${labelled.length} labelled one(s) are gone)`;
    process.stderr.write(`linewatch archive-export: none of the ${chosen.length} archived frame(s) chosen in ${dir} ${why}; nothing written\n`);
    return 1;
  }
  await writeFile(join(out, "labels.csv"), rows.join("\n") + "\n");
  const good = counts.get("good") ?? 0;
  const defects = exported - good;
  const kinds = [...counts].filter(([k]) => k !== "good").map(([k, n]) => `${k} ${n}`).join(", ");
  process.stdout.write(
    `exported ${exported} labelled frame(s) of ${chosen.length} archived to ${out}: good ${good}, defective ${defects}${kinds ? ` (${kinds})` : ""}; ` +
      `${chosen.length - labelled.length} unlabelled left out\n`,
  );
  if (good === 0 || defects === 0) process.stderr.write(`linewatch archive-export: the set has no ${good === 0 ? "good" : "defective"} image: image AUROC needs both\n`);
  process.stdout.write(`evaluate a model on it: linewatch eval --model DIR --dataset ${out} [--baseline EARLIER/scores.csv]\n`);
  return 0;
}
