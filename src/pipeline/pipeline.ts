import { asyncScheduler, catchError, concatMap, EMPTY, from, map, mergeMap, Observable, type SchedulerLike } from "rxjs";
import type { CameraConfig, PipelineConfig } from "../config/schema.js";
import type { ModelManifest } from "../modelManifest.js";
import type { Logger } from "../service/logger.js";
import type { Decision, Frame, Tile } from "../types.js";
import { batchTiles } from "./batch.js";
import { decide } from "./decide.js";
import { FrameGate } from "./frameGate.js";
import type { BatchResult } from "./inferenceEngine.js";
import { applyReference, type Reference } from "./reference.js";
import { cropRoi, FrameError } from "./roi.js";
import { stitchFrames } from "./stitchFrames.js";
import { frameKey, makeTiles, tilePlan } from "./tile.js";

/** What the pipeline needs of a model: its manifest and a batch runner (InferenceEngine). */
export interface Inferencer {
  readonly manifest: ModelManifest;
  run(tiles: readonly Tile[]): Promise<BatchResult>;
}

/** Counters of one camera inside the pipeline. */
export interface CameraPipelineStats {
  received: number;
  dropped: number;
  waiting: number;
  bad_frames: number;
  inference_errors: number;
  decided: number;
  pass: number;
  fail: number;
}

export interface PipelineOptions {
  cameras: readonly CameraConfig[];
  settings: PipelineConfig;
  engine: Inferencer;
  log: Logger;
  scheduler?: SchedulerLike;
  /** Called after every batch with its size and the model's time, for metrics. */
  onBatch?: (tiles: number, ms: number) => void;
}

/**
 * ROI crop -> admission (drop oldest per camera) -> tiles -> batches across frames and cameras ->
 * inference -> stitch -> decision. `connect()` returns the decisions; when the frames complete,
 * what is in flight is still decided before the decisions complete.
 */
export class InspectionPipeline {
  private readonly cams: Map<string, CameraConfig>;
  private readonly counters = new Map<string, CameraPipelineStats>();
  private gate: FrameGate | null = null;
  private readonly references = new Map<string, Reference>();

  constructor(private readonly opts: PipelineOptions) {
    this.cams = new Map(opts.cameras.map((c) => [c.id, c]));
  }

  /** Counters for one camera. */
  stats(camera: string): CameraPipelineStats {
    let s = this.counters.get(camera);
    if (!s) this.counters.set(camera, (s = { received: 0, dropped: 0, waiting: 0, bad_frames: 0, inference_errors: 0, decided: 0, pass: 0, fail: 0 }));
    if (this.gate) {
      const g = this.gate.statsOf(camera);
      s.dropped = g.dropped;
      s.waiting = g.waiting;
    }
    return s;
  }

  /** Uses a few-shot reference for a camera from its next frame on; null removes it. */
  setReference(camera: string, ref: Reference | null): void {
    if (ref) this.references.set(camera, ref);
    else this.references.delete(camera);
  }

  /** The reference in use for a camera, if any. */
  referenceOf(camera: string): Reference | undefined {
    return this.references.get(camera);
  }

  /** Frames released to inference and not yet decided. */
  get inflight(): number {
    return this.gate?.inflightCount ?? 0;
  }

  connect(frames$: Observable<Frame>): Observable<Decision> {
    const { settings, engine, log } = this.opts;
    const spec = engine.manifest.input;
    const scheduler = this.opts.scheduler ?? asyncScheduler;
    return new Observable<Decision>((subscriber) => {
      const tilingOf = (camera: string) => this.cams.get(camera)?.tiling ?? { mode: "resize" as const };
      const gate = new FrameGate(
        settings.max_pending_frames,
        2 * settings.batch_max_tiles,
        (f) => tilePlan(f.width, f.height, tilingOf(f.camera)).length,
        (f) => frameKey(f.camera, f.seq),
      );
      this.gate = gate;
      let ended = false;
      const finishIfIdle = () => {
        if (ended && gate.inflightCount === 0 && [...this.cams.keys()].every((c) => gate.statsOf(c).waiting === 0)) gate.complete();
      };
      const done = (key: string) => {
        gate.done(key);
        finishIfIdle();
      };
      const out = gate.released$
        .pipe(
          mergeMap((f) => makeTiles(f, tilingOf(f.camera), spec)),
          batchTiles<Tile>(settings.batch_max_tiles, settings.batch_max_wait_ms, scheduler),
          concatMap((batch) =>
            from(engine.run(batch)).pipe(
              map((r) => {
                this.opts.onBatch?.(batch.length, r.ms);
                return r.maps;
              }),
              // A failed batch fails its frames, not the pipeline: count, log, and go on.
              catchError((err: Error) => {
                const keys = new Set(batch.map((t) => t.frame_key));
                log.error({ err: err.message, frames: [...keys] }, "inference failed for a batch");
                return [batch.map((t) => ({ ...t, map: new Float32Array(0), map_width: 0, map_height: 0, failed: true as const }))];
              }),
            ),
          ),
          stitchFrames((key) => gate.get(key), (key, camera, err) => {
            this.stats(camera).inference_errors++;
            log.debug({ key, err }, "frame not decided");
            done(key);
          }),
          map(({ frame, map: m, score }) => {
            const cam = this.cams.get(frame.camera);
            const ref = this.references.get(frame.camera);
            if (ref) applyReference(ref, m, frame.width, frame.height);
            const d = decide(frame, m, {
              imageThreshold: cam?.threshold ?? ref?.thresholds.image ?? engine.manifest.threshold.image,
              pixelThreshold: ref?.thresholds.pixel ?? engine.manifest.threshold.pixel,
              score: ref ? undefined : score,
            });
            const s = this.stats(frame.camera);
            s.decided++;
            if (d.verdict === "pass") s.pass++;
            else s.fail++;
            done(frameKey(frame.camera, frame.seq));
            return d;
          }),
        )
        .subscribe(subscriber);
      const input = frames$.subscribe({
        next: (f) => {
          const s = this.stats(f.camera);
          s.received++;
          try {
            gate.admit(cropRoi(f, this.cams.get(f.camera)?.roi));
          } catch (err) {
            if (!(err instanceof FrameError)) throw err;
            s.bad_frames++;
            log.warn({ camera: f.camera, seq: f.seq, err: err.message }, "frame skipped");
          }
        },
        error: (err) => subscriber.error(err),
        complete: () => {
          ended = true;
          finishIfIdle();
        },
      });
      return () => {
        input.unsubscribe();
        out.unsubscribe();
      };
    });
  }
}
