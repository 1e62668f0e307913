import { mkdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseReference, serializeReference, type Reference } from "./reference.js";

/**
 * Few-shot references on disk: `<state_dir>/references/<camera>.json`, written atomically
 * (temp file + rename) so a daemon polling the folder never reads half a file. They survive
 * restarts; a running daemon picks up a new one within its poll interval.
 */
export class ReferenceStore {
  private readonly dir: string;
  private readonly seen = new Map<string, number>();

  constructor(stateDir: string) {
    this.dir = join(stateDir, "references");
  }

  path(camera: string): string {
    return join(this.dir, `${camera}.json`);
  }

  save(camera: string, ref: Reference): void {
    mkdirSync(this.dir, { recursive: true });
    const tmp = `${this.path(camera)}.${process.pid}.tmp`;
    writeFileSync(tmp, serializeReference(ref));
    renameSync(tmp, this.path(camera));
  }

  /** The stored reference, or null when there is none. Throws when the file is corrupt. */
  load(camera: string): Reference | null {
    let text: string;
    try {
      text = readFileSync(this.path(camera), "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw err;
    }
    return parseReference(text);
  }

  remove(camera: string): void {
    try {
      unlinkSync(this.path(camera));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }

  /** The stored file's version (its mtime, ms; 0 when there is none), to tell whether another process wrote it since. */
  version(camera: string): number {
    try {
      return statSync(this.path(camera)).mtimeMs;
    } catch {
      return 0;
    }
  }

  /** Whether the file changed (or appeared or went) since the last call for this camera. */
  changed(camera: string): boolean {
    const mtime = this.version(camera);
    const before = this.seen.get(camera);
    this.seen.set(camera, mtime);
    return before !== mtime;
  }
}
