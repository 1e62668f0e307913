/**
 * The archive's files on disk: `<dir>/<camera>/<YYYY-MM-DD>/<frame_id>` + {@link SUFFIXES}, and
 * an operator's label beside an entry (archiveLabel.ts). Reading what an earlier run left there,
 * and removing an entry's files.
 */
import { readdir, readFile, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { type ArchiveLabel, LABEL_SUFFIX, readLabel } from "./archiveLabel.js";

/** The files of an entry; the JSON is written last, so an entry without it is torn (a crash) and removed. */
export const SUFFIXES = [".jpg", ".mask.png", ".json"] as const;
/** frame_id = `<camera>-<captured_at ms>-<seq>` (decide.ts). */
const FRAME_ID = /^(.+)-(\d+)-(\d+)$/;

/** One archived frame on disk. */
export interface Entry {
  /** `<camera>/<YYYY-MM-DD>/<frame_id>`: the path under the archive's folder without suffix, and the entry's name in URLs. */
  name: string;
  camera: string;
  frame_id: string;
  captured_at: number;
  /** The entry's files, label included. */
  bytes: number;
  /** An operator's label, or null. */
  label: ArchiveLabel | null;
  /** Bytes of the label's file as it is on disk (0 without one; an unreadable one counts too). */
  label_bytes: number;
  /** What the daemon decided on the frame (from its result JSON for an entry of an earlier run). */
  verdict: ArchivedVerdict;
  /** The frame's image score as published, calibrated units; null when its result file holds none. */
  score: number | null;
}

/** The daemon's verdict on an archived frame. */
export type ArchivedVerdict = "pass" | "fail" | "unknown";

/** What an entry's result JSON says: verdict, score and model ("unknown", null, null where the file cannot be read or holds none). */
export interface ArchivedResult {
  verdict: ArchivedVerdict;
  score: number | null;
  /** `<name> <version>` of the model that decided. */
  model: string | null;
}

/** Reads an entry's result JSON (the result as published). */
export async function readResult(base: string): Promise<ArchivedResult> {
  try {
    const r = JSON.parse(await readFile(base + ".json", "utf8")) as { verdict?: unknown; score?: unknown; model?: { name?: unknown; version?: unknown } };
    return {
      verdict: r.verdict === "pass" || r.verdict === "fail" ? r.verdict : "unknown",
      score: typeof r.score === "number" && Number.isFinite(r.score) ? r.score : null,
      model: r.model ? `${String(r.model.name)} ${String(r.model.version)}` : null,
    };
  } catch {
    return { verdict: "unknown", score: null, model: null };
  }
}

/** What an archive folder holds: complete entries, oldest capture first, and what was wrong with it. */
export interface ScanResult {
  entries: Entry[];
  /** Torn entries and labels without an entry (removed unless asked not to). */
  removed: number;
  /** Label files that could not be read (left in place, the entry counted as unlabelled), one line each. */
  problems: string[];
}

/**
 * Reads `<dir>/<camera>/<date>/`: complete entries are listed, torn ones and orphaned labels
 * removed, or only counted with `{ remove: false }` (a reader beside a running daemon, whose
 * entry being written looks torn).
 */
export async function scanArchive(dir: string, opts: { remove: boolean } = { remove: true }): Promise<ScanResult> {
  const out: ScanResult = { entries: [], removed: 0, problems: [] };
  for (const camera of await subdirs(dir)) {
    for (const date of await subdirs(join(dir, camera))) {
      const folder = join(dir, camera, date);
      const files = new Set(await readdir(folder));
      // Only the archive's own files count (and are ever removed); anything else is left alone.
      const labels = [...files].filter((f) => f.endsWith(LABEL_SUFFIX)).map((f) => f.slice(0, -LABEL_SUFFIX.length));
      const ours = [...files].filter((f) => !f.endsWith(LABEL_SUFFIX) && SUFFIXES.some((s) => f.endsWith(s)));
      const bases = new Set(ours.map((f) => SUFFIXES.reduce((b, s) => (b.endsWith(s) ? b.slice(0, -s.length) : b), f)));
      for (const name of labels) {
        if (files.has(name + ".json") || bases.has(name)) continue; // kept, or removed with its torn entry below
        out.removed++;
        if (opts.remove) await removeEntry(join(folder, name));
      }
      const complete: string[] = [];
      for (const frame_id of bases) {
        if (files.has(frame_id + ".json")) complete.push(frame_id);
        else {
          out.removed++;
          if (opts.remove) await removeEntry(join(folder, frame_id));
        }
      }
      // Entries are read SCAN_BATCH at a time: each is a few small reads, and one at a time an
      // archive of thousands took seconds to open.
      for (let i = 0; i < complete.length; i += SCAN_BATCH) {
        const read = await Promise.all(complete.slice(i, i + SCAN_BATCH).map((frame_id) => readEntry(folder, camera, date, frame_id, files)));
        for (const { entry, problem } of read) {
          out.entries.push(entry);
          if (problem) out.problems.push(problem);
        }
      }
    }
  }
  out.entries.sort((a, b) => a.captured_at - b.captured_at);
  return out;
}

/** Entries read at once when scanning. */
const SCAN_BATCH = 32;

/** One complete entry's sizes, date, label and verdict; an unreadable label is a problem, the entry counted as unlabelled. */
async function readEntry(folder: string, camera: string, date: string, frame_id: string, files: Set<string>): Promise<{ entry: Entry; problem: string | null }> {
  const base = join(folder, frame_id);
  const present = [...SUFFIXES, LABEL_SUFFIX].filter((s) => files.has(frame_id + s));
  const sizes = await Promise.all(present.map((s) => stat(base + s).then((st) => st.size, () => 0)));
  // The capture time is in the frame id; an entry named otherwise is dated by its JSON's mtime.
  const m = FRAME_ID.exec(frame_id);
  const captured_at = m ? Number(m[2]) : (await stat(base + ".json")).mtimeMs;
  let label: ArchiveLabel | null = null;
  let problem: string | null = null;
  if (files.has(frame_id + LABEL_SUFFIX)) {
    try {
      label = await readLabel(base);
    } catch (err) {
      problem = (err as Error).message;
    }
  }
  const bytes = sizes.reduce((a, b) => a + b, 0);
  const label_bytes = sizes[present.indexOf(LABEL_SUFFIX)] ?? 0;
  const { verdict, score } = await readResult(base);
  return { entry: { name: `${camera}/${date}/${frame_id}`, camera, frame_id, captured_at, bytes, label, label_bytes, verdict, score }, problem };
}

/** The folders in `dir`, sorted. */
export async function subdirs(dir: string): Promise<string[]> {
  return (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();
}

/** Removes an entry's files (its label too); missing ones are fine. */
export async function removeEntry(base: string): Promise<void> {
  await Promise.all([...SUFFIXES, LABEL_SUFFIX].map((s) => unlink(base + s).catch(() => undefined)));
}
