import { mkdir, readdir, readFile, rmdir, stat, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import sharp from "sharp";
import type { Logger } from "../service/logger.js";
import type { Decision } from "../types.js";
import { KeyedThrottle } from "./keyedThrottle.js";
import { resultPayload, type PublisherIdentity } from "./topics.js";

/** Settings of the archive of failed parts (the `archive` config section). */
export interface ArchiveOptions {
  enabled: boolean;
  /** The archive is kept under this many MiB; past it the oldest entries go first. */
  max_mb: number;
  /** At most one failing frame archived per camera per this many ms. */
  interval_ms: number;
  /** JPEG quality of the archived ROI image. */
  quality: number;
}

/** Counters of a {@link RejectArchive}. */
export interface ArchiveStats {
  saved: number;
  /** Failing frames not archived: within interval_ms of the camera's last one, or that one still being written. */
  skipped: number;
  /** Entries that could not be written (disk full, read-only, ...): the result itself is unaffected. */
  errors: number;
  /** Entries removed to keep the archive under max_mb. */
  pruned: number;
  bytes: number;
  entries: number;
}

/** One archived frame on disk: `<camera>/<YYYY-MM-DD>/<frame_id>` + the suffixes below. */
interface Entry {
  /** `<camera>/<YYYY-MM-DD>/<frame_id>`: the path under the archive's folder without suffix, and the entry's name in URLs. */
  name: string;
  captured_at: number;
  bytes: number;
}

/** An archived failed part as /archive lists it. */
export interface ArchiveListing {
  frame_id: string;
  camera: string;
  captured_at: string;
  /** URL paths (/archive/...) of the ROI JPEG, the mask PNG and the result JSON. */
  image: string;
  mask: string;
  result: string;
}

/** An archived file, read for /archive/<camera>/<day>/<file>. */
export interface ArchiveFile {
  type: string;
  data: Buffer;
}

/** The files of an entry; the JSON is written last, so an entry without it is torn (a crash) and removed. */
const SUFFIXES = [".jpg", ".mask.png", ".json"] as const;
const TYPES: Record<(typeof SUFFIXES)[number], string> = { ".jpg": "image/jpeg", ".mask.png": "image/png", ".json": "application/json" };
/** frame_id = `<camera>-<captured_at ms>-<seq>` (decide.ts). */
const FRAME_ID = /^(.+)-(\d+)-(\d+)$/;
/** Write failures are logged at most this often, ms. */
const ERROR_LOG_MS = 60_000;

/**
 * Keeps the failed parts on disk for the people who look into them later: for each archived
 * failing frame, the ROI as a JPEG, the predicted defect mask at ROI resolution as a PNG
 * (255 = defect) and the result as published (JSON), under `<dir>/<camera>/<UTC date>/<frame_id>.*`.
 * Bounded in size (oldest first) and in rate (per camera); encoding runs in libvips's thread pool
 * and writes are asynchronous, so the archive never holds up a result. A write that fails is
 * counted and logged, never thrown into the pipeline.
 */
export class RejectArchive {
  /** Entries on disk, oldest capture first. */
  private entries: Entry[] = [];
  /** The same, by name: what /archive may serve. */
  private readonly byName = new Map<string, Entry>();
  private bytes = 0;
  /** Keyed by camera. */
  private readonly throttle: KeyedThrottle;
  private readonly counts = { saved: 0, skipped: 0, errors: 0, pruned: 0 };
  private lastErrorLog = -Infinity;
  /** Prunes run one at a time, after the write that needed them. */
  private pruning: Promise<void> = Promise.resolve();

  private constructor(
    readonly dir: string,
    private readonly opts: ArchiveOptions,
    private readonly identity: PublisherIdentity,
    private readonly log: Logger,
    private readonly now: () => number,
  ) {
    this.throttle = new KeyedThrottle(now);
  }

  /**
   * Opens (creating) the archive in `dir`, counts what an earlier run left there, removes torn
   * entries and prunes to `max_mb`.
   * @throws when `dir` cannot be created or read.
   */
  static async open(dir: string, opts: ArchiveOptions, identity: PublisherIdentity, log: Logger, now: () => number = Date.now): Promise<RejectArchive> {
    const archive = new RejectArchive(dir, opts, identity, log.child({ mod: "archive" }), now);
    await mkdir(dir, { recursive: true });
    await archive.scan();
    await archive.prune();
    return archive;
  }

  /** Whether a failing frame of this camera would be archived now. */
  due(camera: string): boolean {
    return this.opts.enabled && this.throttle.due(camera, this.opts.interval_ms);
  }

  /**
   * Archives a failing frame when it is due (else counts it as skipped). Resolves once the frame's
   * pixels are no longer read and the files are written (or the write failed: counted, logged).
   * Never rejects.
   */
  async save(d: Decision): Promise<boolean> {
    if (!this.opts.enabled) return false;
    if (!this.throttle.begin(d.camera, this.opts.interval_ms)) {
      this.counts.skipped++;
      return false;
    }
    const day = new Date(d.captured_at).toISOString().slice(0, 10);
    const name = `${d.camera}/${day}/${d.frame_id}`;
    const folder = join(this.dir, d.camera, day);
    const base = this.path(name);
    const t0 = performance.now();
    try {
      const { image, map } = d;
      const channels = image.format === "GRAY8" ? 1 : 3;
      // The mask leaves the main thread at cell resolution (0.13 M cells for a 1080p ROI with 4 px
      // cells); libvips draws it at ROI resolution: a nearest-neighbour upscale by the cell size
      // is maskToPixels exactly (a JS loop over 2 M pixels held the event loop 14 ms).
      const cells = Buffer.alloc(d.mask.length);
      for (let i = 0; i < cells.length; i++) if (d.mask[i]) cells[i] = 255;
      const [jpeg, png] = await Promise.all([
        sharp(image.data, { raw: { width: image.width, height: image.height, channels } }).jpeg({ quality: this.opts.quality }).toBuffer(),
        sharp(cells, { raw: { width: map.width, height: map.height, channels: 1 } })
          .resize(map.width * map.step, map.height * map.step, { kernel: "nearest" })
          .extract({ left: 0, top: 0, width: map.roi_width, height: map.roi_height })
          .toColourspace("b-w")
          .png({ compressionLevel: 6 })
          .toBuffer(),
      ]);
      const json = Buffer.from(JSON.stringify(resultPayload(d, this.identity), null, 1) + "\n");
      await mkdir(folder, { recursive: true });
      await writeFile(base + SUFFIXES[0], jpeg);
      await writeFile(base + SUFFIXES[1], png);
      await writeFile(base + SUFFIXES[2], json);
      const bytes = jpeg.length + png.length + json.length;
      this.insert({ name, captured_at: d.captured_at, bytes });
      this.counts.saved++;
      this.log.debug({ camera: d.camera, frame_id: d.frame_id, bytes, ms: Math.round(performance.now() - t0) }, "archived");
      if (this.bytes > this.limit()) this.pruning = this.pruning.then(() => this.prune());
      await this.pruning;
      return true;
    } catch (err) {
      this.counts.errors++;
      await removeEntry(base);
      const t = this.now();
      if (t - this.lastErrorLog >= ERROR_LOG_MS) {
        this.lastErrorLog = t;
        this.log.warn({ err: (err as Error).message, dir: this.dir, errors: this.counts.errors }, "archiving a failed part failed; results are unaffected");
      }
      return false;
    } finally {
      this.throttle.done(d.camera);
    }
  }

  /** Counters for /metrics. */
  stats(): ArchiveStats {
    return { ...this.counts, bytes: this.bytes, entries: this.entries.length };
  }

  /** The newest `limit` entries, newest first. */
  list(limit: number): ArchiveListing[] {
    return this.entries
      .slice(-Math.max(0, limit))
      .reverse()
      .map((e) => {
        const [camera, , frame_id] = e.name.split("/");
        const url = encodeURI(e.name);
        return { frame_id, camera, captured_at: new Date(e.captured_at).toISOString(), image: `/archive/${url}.jpg`, mask: `/archive/${url}.mask.png`, result: `/archive/${url}.json` };
      });
  }

  /**
   * One file of an entry the archive holds, by its path under /archive/ (`<camera>/<day>/<frame_id>.jpg`,
   * `.mask.png` or `.json`); null for anything else, so no other path can be read through it.
   */
  async file(path: string): Promise<ArchiveFile | null> {
    const suffix = SUFFIXES.find((s) => path.endsWith(s));
    const entry = suffix && this.byName.get(path.slice(0, -suffix.length));
    if (!suffix || !entry) return null;
    try {
      return { type: TYPES[suffix], data: await readFile(this.path(entry.name) + suffix) };
    } catch {
      return null; // pruned meanwhile, or removed by hand
    }
  }

  /** An entry's files' path without suffix. */
  private path(name: string): string {
    return join(this.dir, name);
  }

  private limit(): number {
    return this.opts.max_mb * 1024 * 1024;
  }

  /** Keeps `entries` in capture order (frames of several cameras finish out of order). */
  private insert(e: Entry): void {
    let i = this.entries.length;
    while (i > 0 && this.entries[i - 1].captured_at > e.captured_at) i--;
    this.entries.splice(i, 0, e);
    this.byName.set(e.name, e);
    this.bytes += e.bytes;
  }

  /** Removes the oldest entries until the archive fits its limit; empty date folders go too. */
  private async prune(): Promise<void> {
    while (this.bytes > this.limit() && this.entries.length > 0) {
      const e = this.entries.shift()!;
      this.byName.delete(e.name);
      this.bytes -= e.bytes;
      this.counts.pruned++;
      const base = this.path(e.name);
      await removeEntry(base);
      await rmdir(join(base, "..")).catch(() => undefined); // fails while the folder holds others
    }
  }

  /** Reads `<dir>/<camera>/<date>/`: complete entries are counted, torn ones removed. */
  private async scan(): Promise<void> {
    const found: Entry[] = [];
    for (const camera of await subdirs(this.dir)) {
      for (const date of await subdirs(join(this.dir, camera))) {
        const folder = join(this.dir, camera, date);
        const files = new Set(await readdir(folder));
        // Only the archive's own files count (and are ever removed); anything else is left alone.
        const ours = [...files].filter((f) => SUFFIXES.some((s) => f.endsWith(s)));
        const bases = new Set(ours.map((f) => SUFFIXES.reduce((b, s) => (b.endsWith(s) ? b.slice(0, -s.length) : b), f)));
        for (const name of bases) {
          const base = join(folder, name);
          if (!files.has(name + ".json")) {
            await removeEntry(base);
            continue;
          }
          let bytes = 0;
          for (const s of SUFFIXES) bytes += await stat(base + s).then((st) => st.size, () => 0);
          // The capture time is in the frame id; an entry named otherwise is dated by its JSON's mtime.
          const m = FRAME_ID.exec(name);
          const captured_at = m ? Number(m[2]) : (await stat(base + ".json")).mtimeMs;
          found.push({ name: `${camera}/${date}/${name}`, captured_at, bytes });
        }
      }
    }
    found.sort((a, b) => a.captured_at - b.captured_at);
    this.entries = found;
    for (const e of found) this.byName.set(e.name, e);
    this.bytes = found.reduce((n, e) => n + e.bytes, 0);
  }
}

async function subdirs(dir: string): Promise<string[]> {
  return (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();
}

async function removeEntry(base: string): Promise<void> {
  await Promise.all(SUFFIXES.map((s) => unlink(base + s).catch(() => undefined)));
}
