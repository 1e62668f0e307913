/**
 * Few-shot enrolment over MQTT (`<camera>/enroll/set`): takes a camera's next decided frames as
 * good parts, builds a reference from their ROI pixels with the daemon's own model, stores it
 * under the state directory and has the daemon apply it. Lives beside main.ts because it joins
 * the pipeline (reference building) and publish (answers) without either importing the other.
 */
import type { CameraConfig } from "./config/schema.js";
import type { Inferencer } from "./pipeline/pipeline.js";
import type { InspectImage } from "./pipeline/inspect.js";
import { buildReference, referenceWarnings } from "./pipeline/reference.js";
import type { ReferenceStore } from "./pipeline/referenceStore.js";
import type { EnrollCommand } from "./publish/commandChannel.js";
import type { Logger } from "./service/logger.js";
import type { Decision } from "./types.js";

/** An answer on `<camera>/enroll/state`. */
export type EnrollAnswer = (camera: string, body: Record<string, unknown>) => void;

/** What enrolment needs. */
export interface EnrollmentOptions {
  engine: Inferencer;
  store: ReferenceStore;
  cameras: readonly CameraConfig[];
  /** Largest inference batch, tiles. */
  batch_max: number;
  log: Logger;
  answer: EnrollAnswer;
  /** Called after the stored reference changed, so the daemon loads it now. */
  changed: () => void;
}

interface Collecting {
  want: number;
  images: InspectImage[];
}

/** Enrolments in progress, one per camera at most. */
export class Enrollment {
  private readonly collecting = new Map<string, Collecting>();
  private readonly building = new Set<string>();
  /** Clears asked per camera: a reference whose build began before a clear is dropped, not stored. */
  private readonly clears = new Map<string, number>();
  private readonly log: Logger;

  constructor(private readonly opts: EnrollmentOptions) {
    this.log = opts.log.child({ mod: "enroll" });
  }

  /** Starts collecting (replacing one in progress) or clears the reference. */
  command(camera: string, cmd: EnrollCommand): void {
    if ("clear" in cmd) {
      this.collecting.delete(camera);
      this.clears.set(camera, (this.clears.get(camera) ?? 0) + 1);
      try {
        this.opts.store.remove(camera);
      } catch (err) {
        return this.opts.answer(camera, { ok: false, error: `cannot remove the reference: ${(err as Error).message}` });
      }
      this.opts.changed();
      this.log.info({ camera }, "reference cleared on request");
      return this.opts.answer(camera, { ok: true, state: "cleared" });
    }
    if (this.building.has(camera)) return this.opts.answer(camera, { ok: false, error: "a reference is being built for this camera; try again when it is done" });
    this.collecting.set(camera, { want: cmd.frames, images: [] });
    this.opts.answer(camera, { ok: true, state: "collecting", taken: 0, frames: cmd.frames });
  }

  /** Offers a decided frame; taken when its camera is collecting. */
  offer(d: Decision): void {
    const c = this.collecting.get(d.camera);
    if (!c) return;
    // The decision's image may share the frame's buffer: keep a copy of the ROI pixels.
    c.images.push({ width: d.image.width, height: d.image.height, format: d.image.format, data: Uint8Array.from(d.image.data) });
    this.opts.answer(d.camera, { ok: true, state: "collecting", taken: c.images.length, frames: c.want });
    if (c.images.length < c.want) return;
    this.collecting.delete(d.camera);
    void this.build(d.camera, c.images);
  }

  /** Drops enrolments still collecting. */
  stop(): void {
    this.collecting.clear();
  }

  private async build(camera: string, images: InspectImage[]): Promise<void> {
    const cam = this.opts.cameras.find((c) => c.id === camera);
    if (!cam) return;
    this.building.add(camera);
    const clears = this.clears.get(camera) ?? 0;
    const version = this.opts.store.version(camera);
    this.opts.answer(camera, { ok: true, state: "building", frames: images.length });
    try {
      const t0 = performance.now();
      const ref = await buildReference(this.opts.engine, images, { tiling: cam.tiling, batchMax: this.opts.batch_max });
      if ((this.clears.get(camera) ?? 0) !== clears) {
        // Storing it now would bring back the reference the operator has just cleared.
        this.log.info({ camera }, "reference built, but cleared meanwhile: not stored");
        return this.opts.answer(camera, { ok: false, state: "cancelled", error: "the reference was cleared while it was being built; nothing stored" });
      }
      if (this.opts.store.version(camera) !== version) {
        // `linewatch enroll` (or --clear) wrote the camera's reference meanwhile: the newer word stands.
        this.log.info({ camera }, "reference built, but the stored one was changed by another process meanwhile: not stored");
        return this.opts.answer(camera, { ok: false, state: "cancelled", error: "the camera's stored reference was changed meanwhile by another process (linewatch enroll); that one is kept, nothing stored" });
      }
      this.opts.store.save(camera, ref);
      this.opts.changed();
      this.log.info({ camera, kind: ref.kind, shots: ref.shots, ms: Math.round(performance.now() - t0) }, "reference built from live frames");
      const warnings = referenceWarnings(ref);
      for (const warning of warnings) this.log.warn({ camera, shots: ref.shots, warning }, "few-shot reference stored with a warning");
      this.opts.answer(camera, { ok: true, state: "done", kind: ref.kind, shots: ref.shots, created_at: ref.created_at, warnings });
    } catch (err) {
      this.log.error({ camera, err: (err as Error).message }, "enrolment failed");
      this.opts.answer(camera, { ok: false, state: "failed", error: (err as Error).message });
    } finally {
      this.building.delete(camera);
    }
  }
}
