/**
 * Operators' labels on archived parts: whether an archived frame really shows a defect (and which
 * kind) or is a good part the model flagged (a false alarm). Stored beside the entry as
 * `<frame_id>.label.json`; `linewatch archive-export` turns the labelled entries into an
 * evaluation set, so that a candidate model can be ranked on a line's own parts
 * (`linewatch eval --baseline`) instead of on a public dataset's.
 */
import { readFile, rename, unlink, writeFile } from "node:fs/promises";
import { z } from "zod";

/** The suffix of an entry's label file. */
export const LABEL_SUFFIX = ".label.json";

/** A defect type as a folder name of the exported set: not "good", which is the label of a good part. */
const defectType = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, "lower-case letters, digits, '_' and '-', 1 to 40, starting with a letter or digit")
  .refine((t) => t !== "good", "'good' is not a defect type (send truth 'good' instead)");

const labelFields = {
  truth: z.enum(["defect", "good"]).describe("What the part really is: a defect, or a good part (a false alarm when the daemon failed it)"),
  type: defectType.optional().describe("The defect's kind (a folder of the exported set); only with truth 'defect'"),
  by: z.string().min(1).max(64).optional().describe("Who labelled it: an operator or station id"),
  note: z.string().max(200).optional().describe("Free text kept with the label"),
};

/** `label/set`: label an archived frame of the camera, or remove its label. */
export const labelCommandSchema = z.union([
  z
    .object({ frame_id: z.string().min(1).max(200).describe("The archived frame, as the result published it"), ...labelFields })
    .strict()
    .refine((l) => l.type === undefined || l.truth === "defect", { message: "type is only given with truth 'defect'", path: ["type"] }),
  z.object({ frame_id: z.string().min(1).max(200), clear: z.literal(true).describe("Remove the frame's label") }).strict(),
]);

/** A parsed `label/set` payload. */
export type LabelCommand = z.infer<typeof labelCommandSchema>;

/** A label as stored (and as /archive lists it). */
export const archiveLabelSchema = z
  .object({ ...labelFields, at: z.string().describe("When it was labelled, ISO 8601") })
  .strict()
  .refine((l) => l.type === undefined || l.truth === "defect", { message: "type is only given with truth 'defect'" });

/** An operator's label of an archived part. */
export type ArchiveLabel = z.infer<typeof archiveLabelSchema>;

/** A label asked for a frame the archive does not hold, or that could not be stored. */
export class ArchiveLabelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ArchiveLabelError";
  }
}

/** The folder of the exported set a label puts its image in: "good", the defect's type, or "defect". */
export function labelFolder(label: Pick<ArchiveLabel, "truth" | "type">): string {
  return label.truth === "good" ? "good" : (label.type ?? "defect");
}

/** Writes an entry's label whole (a temporary file renamed over it), so a crash leaves the old label or the new one. */
export async function writeLabel(base: string, label: ArchiveLabel): Promise<number> {
  const text = JSON.stringify(label) + "\n";
  const tmp = `${base}${LABEL_SUFFIX}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, base + LABEL_SUFFIX);
  return Buffer.byteLength(text);
}

/** Removes an entry's label; no label is fine. */
export async function removeLabel(base: string): Promise<void> {
  await unlink(base + LABEL_SUFFIX).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "ENOENT") throw err;
  });
}

/** An entry's label, or null when it has none; a label file that is not a valid label is an error naming it. */
export async function readLabel(base: string): Promise<ArchiveLabel | null> {
  let text: string;
  try {
    text = await readFile(base + LABEL_SUFFIX, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ArchiveLabelError(`${base}${LABEL_SUFFIX}: not JSON: ${(err as Error).message}`);
  }
  const r = archiveLabelSchema.safeParse(doc);
  if (!r.success) throw new ArchiveLabelError(`${base}${LABEL_SUFFIX}: not a label: ${r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`);
  return r.data;
}
