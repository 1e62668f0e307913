import { asyncScheduler, catchError, finalize, from, map, mergeMap, Observable, Subject, type SchedulerLike } from "rxjs";
import type { CameraConfig, PipelineConfig } from "../config/schema.js";
import type { ModelManifest } from "../modelManifest.js";
import type { Logger } from "../service/logger.js";
import type { Decision, Frame, RoiFrame, Tile, TileRect } from "../types.js";
import { decide } from "./decide.js";
import { FrameGate } from "./frameGate.js";
import { inOrder } from "./inOrder.js";
import type { BankData } from "./inferProtocol.js";
import { batchesInFlight, type BatchResult, type FeatureBatch } from "./inferenceEngine.js";
import { applyReference, type Reference } from "./reference.js";
import { cropRoi, FrameError } from "./roi.js";
import { packTiles, TurnQueue, type PackedBatch } from "./packTiles.js";
import { stitchFrames, type TileOutcome } from "./stitchFrames.js";
import { frameKey, sampleTile, tilePlan } from "./tile.js";

/**
 * What the pipeline needs of a model: its manifest and a batch runner (InferenceEngine). An
 * engine that also offers `inputBuffer` and `runPacked` gets its tiles sampled straight into
 * pooled, transferable batch buffers.
 */
export interface Inferencer {
  readonly manifest: ModelManifest;
  /** Batches it runs at once (InferenceEngine: its workers); 1 when absent. */
  readonly workers?: number;
  run(tiles: readonly Tile[]): Promise<BatchResult>;
  inputBuffer?(n: number): Float32Array;
  runPacked?(input: Float32Array, tiles: readonly Omit<Tile, "input">[]): Promise<BatchResult>;
  /** Feature references (InferenceEngine): the model's features of tiles, ... */
  features?(tiles: readonly Tile[]): Promise<FeatureBatch>;
  /** ... a bank built from them in the worker, ... */
  buildBank?(parts: Float32Array[], dim: number, max: number): Promise<Omit<BankData, "weight">>;
  /** ... the worker's id of a reference's bank (a tile's `bank`), and dropping it. */
  bankFor?(owner: object, data: BankData): number;
  releaseBank?(owner: object): void;
}

/** The bank id to run a camera's tiles with: its feature reference's, or 0. */
export function bankOf(engine: Inferencer, ref: Reference | null | undefined): number {
  return ref?.kind === "features" && engine.bankFor && engine.manifest.outputs.features ? engine.bankFor(ref, ref.bank) : 0;
}

/** One tile to cut from a frame in flight. */
interface TileJob extends Omit<Tile, "input"> {
  frame: RoiFrame;
  rect: TileRect;
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
  /**
   * Send a partial batch at once while a worker sits idle (default true). False only to measure
   * what that does (bench/workersAB.ts).
   */
  earlySend?: boolean;
  /** Tiles the gate lets into flight (default: the batches in flight plus one, full). For bench/workersAB.ts. */
  inflightTiles?: number;
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
  private readonly roomSubject = new Subject<void>();
  /** Emits when {@link wants} may have turned true for a camera: resume its capture then. */
  readonly room$: Observable<void> = this.roomSubject.asObservable();

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
    const old = this.references.get(camera);
    if (old && old !== ref) this.opts.engine.releaseBank?.(old);
    if (ref) this.references.set(camera, ref);
    else this.references.delete(camera);
  }

  /** The reference in use for a camera, if any. */
  referenceOf(camera: string): Reference | undefined {
    return this.references.get(camera);
  }

  /**
   * Whether the pipeline has room for the next frame of `camera` now (see FrameGate.wants); true
   * before connect(). A source that can hold frames back (capture's appsink) takes its next frame
   * only then, so frames that would be dropped are dropped before they are copied.
   */
  wants(camera: string): boolean {
    return this.gate?.wants(camera) ?? true;
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
      const size = spec.channels * spec.height * spec.width;
      const workers = engine.workers ?? 1;
      const inFlight = batchesInFlight(workers);
      const runPacked = engine.runPacked && engine.inputBuffer ? engine.runPacked.bind(engine) : null;
      const alloc = runPacked && engine.inputBuffer ? engine.inputBuffer.bind(engine) : (n: number) => new Float32Array(n * size);
      const runBatch = (b: PackedBatch<TileJob>): Promise<BatchResult> => {
        batchesOut++;
        const metas = b.jobs.map(({ frame_key, index, count, rect, bank }) => ({ frame_key, index, count, rect, bank }));
        if (runPacked) return runPacked(b.input, metas);
        return engine.run(metas.map((m, i) => ({ ...m, input: b.input.subarray(i * size, (i + 1) * size) })));
      };
      // Room for the batches in flight plus the one being filled, so a frame of more tiles than a
      // batch does not leave the model waiting for the frame before it to be decided.
      const tileTurns = new TurnQueue<TileJob>();
      let batchesOut = 0;
      const batchBack$ = new Subject<void>();
      const gate = new FrameGate(
        settings.max_pending_frames,
        this.opts.inflightTiles ?? (inFlight + 1) * settings.batch_max_tiles,
        (f) => tilePlan(f.width, f.height, tilingOf(f.camera)).length,
        (f) => frameKey(f.camera, f.seq),
      );
      this.gate = gate;
      const room = gate.room$.subscribe(() => this.roomSubject.next());
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
          mergeMap((f) => {
            const rects = tilePlan(f.width, f.height, tilingOf(f.camera));
            const key = frameKey(f.camera, f.seq);
            const bank = bankOf(engine, this.references.get(f.camera));
            return rects.map<TileJob>((rect, index) => ({ frame: f, frame_key: key, index, count: rects.length, rect, bank }));
          }),
          // Sampling a tile takes milliseconds: one a turn keeps the event loop responsive.
          tileTurns.operator(),
          packTiles<TileJob>({
            maxItems: settings.batch_max_tiles,
            maxWaitMs: settings.batch_max_wait_ms,
            size,
            alloc,
            fill: (job, out) => sampleTile(job.frame, job.rect, spec, out),
            scheduler,
            // Hold a partial batch while tiles are coming, or while a batch is queued behind the
            // running ones: it leaves fuller at no cost in time.
            hold: () => tileTurns.pending > 0 || batchesOut >= inFlight,
            // While workers sit idle, the tiles on hand and on their way are shared among them and
            // each share leaves as soon as it is sampled, instead of waiting batch_max_wait_ms:
            // one frame on two idle workers is two half batches at once, not one batch after the
            // wait. Saturated, no worker is idle and batches stay full.
            early: this.opts.earlySend === false ? undefined : (n) => {
              const idle = workers - batchesOut;
              return idle > 0 && n >= Math.ceil((n + tileTurns.pending) / idle);
            },
            recheck: batchBack$,
          }),
          mergeMap(
            (batch, seq) =>
              from(runBatch(batch)).pipe(
                finalize(() => {
                  batchesOut--;
                  batchBack$.next();
                }),
                map((r) => {
                  this.opts.onBatch?.(batch.jobs.length, r.ms);
                  return r.maps;
                }),
                // A failed batch fails its frames, not the pipeline: count, log, and go on.
                catchError((err: Error) => {
                  const keys = new Set(batch.jobs.map((t) => t.frame_key));
                  log.error({ err: err.message, frames: [...keys] }, "inference failed for a batch");
                  return [batch.jobs.map(({ frame_key, index, count, rect }) => ({ frame_key, index, count, rect, map: new Float32Array(0), map_width: 0, map_height: 0, failed: true as const }))];
                }),
                map((value: TileOutcome[]) => ({ seq, value })),
              ),
            inFlight,
          ),
          // Batches in several workers finish in any order: back to the order they were sent in.
          inOrder<TileOutcome[]>(),
          // Stitch one tile map a turn, for the same reason.
          mergeMap((maps) => maps.map((m) => [m])),
          new TurnQueue<TileOutcome[]>().operator(),
          stitchFrames((key) => gate.get(key), (key, camera, err) => {
            gate.get(key)?.release?.();
            this.stats(camera).inference_errors++;
            log.debug({ key, err }, "frame not decided");
            done(key);
          }),
          map(({ frame, map: m, score }) => {
            const cam = this.cams.get(frame.camera);
            const ref = this.references.get(frame.camera);
            if (ref) applyReference(ref, m.data, m.width, m.height);
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
            f.release?.();
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
        room.unsubscribe();
      };
    });
  }
}
