/**
 * What the archive holds, in memory: its entries in capture order, found by name (what /archive
 * serves) and by camera and frame id (what label/set labels), and their bytes on disk. The files
 * themselves are rejectArchive.ts's.
 */
import type { ArchiveLabel } from "./archiveLabel.js";
import type { ArchivedVerdict, Entry } from "./archiveScan.js";

/** Labelled archive entries of one camera with one verdict and one truth: fail + good are false alarms, pass + defect misses. */
export interface LabelCount {
  camera: string;
  verdict: ArchivedVerdict;
  truth: ArchiveLabel["truth"];
  count: number;
}

/** The archive's entries and their sizes. */
export class ArchiveIndex {
  /** Oldest capture first. */
  private readonly entries: Entry[] = [];
  private readonly byName = new Map<string, Entry>();
  private readonly byFrame = new Map<string, Entry>();
  private total = 0;

  /** Bytes of every entry's files, labels included. */
  get bytes(): number {
    return this.total;
  }

  /** How many entries. */
  get size(): number {
    return this.entries.length;
  }

  /** Adds an entry in capture order (frames of several cameras finish out of order). */
  insert(e: Entry): void {
    let i = this.entries.length;
    while (i > 0 && this.entries[i - 1].captured_at > e.captured_at) i--;
    this.entries.splice(i, 0, e);
    this.byName.set(e.name, e);
    this.byFrame.set(frameKey(e.camera, e.frame_id), e);
    this.total += e.bytes;
  }

  /** Removes and returns the entry to prune next: the oldest unlabelled one, else the oldest. */
  takeOldest(): Entry | undefined {
    if (this.entries.length === 0) return undefined;
    const k = this.entries.findIndex((x) => x.label === null);
    const [e] = this.entries.splice(k < 0 ? 0 : k, 1);
    this.byName.delete(e.name);
    this.byFrame.delete(frameKey(e.camera, e.frame_id));
    this.total -= e.bytes;
    return e;
  }

  /** The entry of that name (`<camera>/<day>/<frame_id>`). */
  named(name: string): Entry | undefined {
    return this.byName.get(name);
  }

  /** The entry of that camera's frame. */
  frame(camera: string, frame_id: string): Entry | undefined {
    return this.byFrame.get(frameKey(camera, frame_id));
  }

  /** Whether `e` is still held (not pruned meanwhile). */
  holds(e: Entry): boolean {
    return this.byName.get(e.name) === e;
  }

  /** Gives a held entry its new label, whose file now takes `labelBytes` (0: no label file). */
  relabel(e: Entry, label: ArchiveLabel | null, labelBytes: number): void {
    e.bytes += labelBytes - e.label_bytes;
    this.total += labelBytes - e.label_bytes;
    e.label = label;
    e.label_bytes = labelBytes;
  }

  /** The newest `limit` entries, newest first. */
  newest(limit: number): Entry[] {
    return this.entries.slice(-Math.max(0, limit)).reverse();
  }

  /** The labelled entries counted by camera, verdict and truth, in that order. */
  labelCounts(): LabelCount[] {
    const counts = new Map<string, LabelCount>();
    for (const e of this.entries) {
      if (!e.label) continue;
      const key = `${e.camera}\n${e.verdict}\n${e.label.truth}`;
      const c = counts.get(key) ?? { camera: e.camera, verdict: e.verdict, truth: e.label.truth, count: 0 };
      c.count++;
      counts.set(key, c);
    }
    return [...counts.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, c]) => c);
  }
}

/** The key of a camera's frame; also what an entry being written is known by. */
export function frameKey(camera: string, frame_id: string): string {
  return `${camera}/${frame_id}`;
}
