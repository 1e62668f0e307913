import { mkdir, readFile, rmdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import sharp from "sharp";
import type { Logger } from "../service/logger.js";
import type { Decision } from "../types.js";
import { type ArchiveLabel, ArchiveLabelError, type LabelCommand, removeLabel, writeLabel } from "./archiveLabel.js";
import { ArchiveIndex, frameKey, type LabelCount } from "./archiveIndex.js";
import { type ArchivedVerdict, removeEntry, scanArchive, SUFFIXES } from "./archiveScan.js";
import { KeyedThrottle } from "./keyedThrottle.js";
import { resultPayload, type PublisherIdentity } from "./topics.js";

/** Settings of the archive of failed parts (the `archive` config section). */
export interface ArchiveOptions {
  enabled: boolean;
  /** The archive is kept under this many MiB; past it the oldest entries go first. */
  max_mb: number;
  /** At most one failing frame archived per camera per this many ms. */
  interval_ms: number;
  /** A passing frame archived per camera every this many ms (0: none), so that labels can find the defects the model missed. */
  pass_interval_ms: number;
  /** JPEG quality of the archived ROI image. */
  quality: number;
}

/** Counters of a {@link RejectArchive}. */
export interface ArchiveStats {
  saved: number;
  /** Passing frames archived (a sample, pass_interval_ms). */
  saved_pass: number;
  /** Failing frames not archived: within interval_ms of the camera's last one, or that one still being written. */
  skipped: number;
  /** Entries that could not be written (disk full, read-only, ...): the result itself is unaffected. */
  errors: number;
  /** Entries removed to keep the archive under max_mb. */
  pruned: number;
  bytes: number;
  entries: number;
  /** Entries an operator has labelled (label/set). */
  labelled: number;
  /** The labelled entries counted by camera, the daemon's verdict and the operator's truth. */
  labels: LabelCount[];
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
  /** What the daemon decided on the frame: "fail", or "pass" for the pass sample ("unknown": its result file is unreadable). */
  verdict: ArchivedVerdict;
  /** The image score as published, calibrated units (null: its result file holds none). */
  score: number | null;
  /** An operator's label, or null. */
  label: ArchiveLabel | null;
}

/** An archived file, read for /archive/<camera>/<day>/<file>. */
export interface ArchiveFile {
  type: string;
  data: Buffer;
}

const TYPES: Record<(typeof SUFFIXES)[number], string> = { ".jpg": "image/jpeg", ".mask.png": "image/png", ".json": "application/json" };
/** Write failures are logged at most this often, ms. */
const ERROR_LOG_MS = 60_000;

/**
 * Keeps the failed parts on disk for the people who look into them later: for each archived
 * failing frame (and, when asked, a sample of passing ones), the ROI as a JPEG, the predicted
 * defect mask at ROI resolution as a PNG (255 = defect) and the result as published (JSON), under
 * `<dir>/<camera>/<UTC date>/<frame_id>.*`; an operator's label beside it (label()).
 * Bounded in size (oldest unlabelled entries first) and in rate (per camera); encoding runs in
 * libvips's thread pool and writes are asynchronous, so the archive never holds up a result. A
 * write that fails is counted and logged, never thrown into the pipeline.
 */
export class RejectArchive {
  /** The entries on disk. */
  private readonly index = new ArchiveIndex();
  /** Keyed by camera (failing frames) and `pass/<camera>` (the sample of passing ones). */
  private readonly throttle: KeyedThrottle;
  private readonly counts = { saved: 0, saved_pass: 0, skipped: 0, errors: 0, pruned: 0 };
  private lastErrorLog = -Infinity;
  /** Prunes run one at a time, after the write that needed them. */
  private pruning: Promise<void> = Promise.resolve();
  /** Labels are stored one at a time, in the order they came. */
  private labelling: Promise<unknown> = Promise.resolve();
  /** Entries being written, by `<camera>/<frame_id>`: a label for one waits for its files. */
  private readonly writing = new Map<string, Promise<void>>();

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
    const found = await scanArchive(dir);
    for (const problem of found.problems) archive.log.warn({ problem }, "archived label unreadable; the entry counts as unlabelled and the file is left as it is");
    for (const e of found.entries) archive.index.insert(e);
    await archive.prune();
    return archive;
  }

  /** Whether a frame of this camera with this verdict would be archived now. */
  due(camera: string, verdict: Decision["verdict"]): boolean {
    if (!this.opts.enabled) return false;
    return verdict === "fail" ? this.throttle.due(camera, this.opts.interval_ms) : this.opts.pass_interval_ms > 0 && this.throttle.due(`pass/${camera}`, this.opts.pass_interval_ms);
  }

  /**
   * Archives a failing frame when it is due (else counts it as skipped), or a passing one when the
   * camera's pass sample is due. Resolves once the frame's pixels are no longer read and the files
   * are written (or the write failed: counted, logged). Never rejects.
   */
  async save(d: Decision): Promise<boolean> {
    if (!this.opts.enabled) return false;
    const pass = d.verdict === "pass";
    const key = pass ? `pass/${d.camera}` : d.camera;
    if (pass ? this.opts.pass_interval_ms === 0 || !this.throttle.begin(key, this.opts.pass_interval_ms) : !this.throttle.begin(key, this.opts.interval_ms)) {
      if (!pass) this.counts.skipped++;
      return false;
    }
    const day = new Date(d.captured_at).toISOString().slice(0, 10);
    const name = `${d.camera}/${day}/${d.frame_id}`;
    const folder = join(this.dir, d.camera, day);
    const base = this.path(name);
    const t0 = performance.now();
    // Set before the first await: the result is already published, and a label may follow it at once.
    const frame = frameKey(d.camera, d.frame_id);
    let written!: () => void;
    this.writing.set(frame, new Promise<void>((resolve) => (written = resolve)));
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
      const payload = resultPayload(d, this.identity);
      const json = Buffer.from(JSON.stringify(payload, null, 1) + "\n");
      await mkdir(folder, { recursive: true });
      await writeFile(base + SUFFIXES[0], jpeg);
      await writeFile(base + SUFFIXES[1], png);
      await writeFile(base + SUFFIXES[2], json);
      const bytes = jpeg.length + png.length + json.length;
      this.index.insert({ name, camera: d.camera, frame_id: d.frame_id, captured_at: d.captured_at, bytes, label: null, label_bytes: 0, verdict: d.verdict, score: payload.score });
      if (pass) this.counts.saved_pass++;
      else this.counts.saved++;
      this.log.debug({ camera: d.camera, frame_id: d.frame_id, bytes, ms: Math.round(performance.now() - t0) }, "archived");
      if (this.index.bytes > this.limit()) this.pruning = this.pruning.then(() => this.prune());
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
      this.throttle.done(key);
      this.writing.delete(frame);
      written();
    }
  }

  /**
   * Labels an archived frame of `camera` (or removes its label): the label file is written whole
   * before it counts; labels sent together are stored in the order they came, and a label of a
   * frame still being archived waits for its files. Resolves to the label stored (null when cleared).
   * @throws ArchiveLabelError when the archive does not hold the frame (never archived, pruned,
   * another camera's) or the label cannot be written.
   */
  async label(camera: string, cmd: LabelCommand): Promise<ArchiveLabel | null> {
    // One at a time: two labels of one frame sent together would share the temporary file and
    // leave the byte count and the label on disk to whichever write finished last.
    const run = this.labelling.then(() => this.labelNow(camera, cmd));
    this.labelling = run.catch(() => undefined);
    return run;
  }

  private async labelNow(camera: string, cmd: LabelCommand): Promise<ArchiveLabel | null> {
    await this.writing.get(frameKey(camera, cmd.frame_id));
    const entry = this.index.frame(camera, cmd.frame_id);
    if (!entry) throw new ArchiveLabelError(`frame ${cmd.frame_id.slice(0, 200)} of camera ${camera} is not in the archive (never archived, pruned, or another camera's)`);
    const base = this.path(entry.name);
    let label: ArchiveLabel | null = null;
    let bytes = 0;
    try {
      if ("clear" in cmd) await removeLabel(base);
      else {
        const { frame_id: _, ...fields } = cmd;
        label = { ...fields, at: new Date(this.now()).toISOString() };
        bytes = await writeLabel(base, label);
      }
    } catch (err) {
      throw new ArchiveLabelError(`cannot store the label of ${cmd.frame_id}: ${(err as Error).message}`);
    }
    if (!this.index.holds(entry)) {
      await removeLabel(base).catch(() => undefined); // pruned while the label was written
      throw new ArchiveLabelError(`frame ${cmd.frame_id} of camera ${camera} was pruned from the archive while being labelled`);
    }
    this.index.relabel(entry, label, bytes);
    this.log.info({ camera, frame_id: cmd.frame_id, label }, label ? "archived frame labelled" : "archived frame's label removed");
    return label;
  }

  /** Counters for /metrics. */
  stats(): ArchiveStats {
    const labels = this.index.labelCounts();
    return { ...this.counts, bytes: this.index.bytes, entries: this.index.size, labelled: labels.reduce((n, c) => n + c.count, 0), labels };
  }

  /** The newest `limit` entries, newest first. */
  list(limit: number): ArchiveListing[] {
    return this.index.newest(limit).map((e) => {
      const url = encodeURI(e.name);
      return { frame_id: e.frame_id, camera: e.camera, captured_at: new Date(e.captured_at).toISOString(), image: `/archive/${url}.jpg`, mask: `/archive/${url}.mask.png`, result: `/archive/${url}.json`, verdict: e.verdict, score: e.score, label: e.label };
    });
  }

  /**
   * One file of an entry the archive holds, by its path under /archive/ (`<camera>/<day>/<frame_id>.jpg`,
   * `.mask.png` or `.json`); null for anything else, so no other path can be read through it.
   */
  async file(path: string): Promise<ArchiveFile | null> {
    const suffix = SUFFIXES.find((s) => path.endsWith(s));
    const entry = suffix && this.index.named(path.slice(0, -suffix.length));
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

  /**
   * Removes entries until the archive fits its limit, the oldest unlabelled first (an operator's
   * labels are the line's evaluation set), the oldest labelled ones only when no other is left;
   * empty date folders go too.
   */
  private async prune(): Promise<void> {
    while (this.index.bytes > this.limit()) {
      const e = this.index.takeOldest();
      if (!e) break;
      this.counts.pruned++;
      const base = this.path(e.name);
      await removeEntry(base);
      await rmdir(join(base, "..")).catch(() => undefined); // fails while the folder holds others
    }
  }
}
