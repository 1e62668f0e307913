import { existsSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { packageRoot } from "../config/load.js";
import type { ModelConfig } from "../config/schema.js";
import { manifestSchema, type ModelManifest } from "../modelManifest.js";
import type { Logger } from "../service/logger.js";
import type { Tile, TileMap } from "../types.js";
import type { BankData, RunReply, ValueInfo, WorkerRequest } from "./inferProtocol.js";
import { InferenceHost } from "./inferenceHost.js";

/** A model that cannot be used: missing, corrupt, or disagreeing with its manifest. */
export class ModelError extends Error {
  constructor(
    message: string,
    readonly modelDir: string,
  ) {
    super(message);
    this.name = "ModelError";
  }
}

/** Reads and validates models/<name>/model.json. */
export function readManifest(dir: string): ModelManifest {
  const file = join(dir, "model.json");
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new ModelError(`cannot read the model manifest ${file}: ${(err as Error).message}`, dir);
  }
  const r = manifestSchema.safeParse(doc);
  if (!r.success) throw new ModelError(`${file} is not a valid manifest: ${r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`, dir);
  return r.data;
}

/** Differences between what the manifest promises and what the ONNX declares; empty when they agree. */
export function checkModelIo(m: ModelManifest, inputs: ValueInfo[], outputs: ValueInfo[]): string[] {
  const problems: string[] = [];
  const input = inputs.find((i) => i.name === m.input.name);
  if (!input) problems.push(`input '${m.input.name}' not in the ONNX (it has ${inputs.map((i) => i.name).join(", ")})`);
  else {
    const [n, c, h, w] = input.shape;
    if (input.shape.length !== 4) problems.push(`input '${input.name}' has rank ${input.shape.length}, the manifest says NCHW`);
    else {
      if (c !== m.input.channels) problems.push(`input channels: ONNX ${c}, manifest ${m.input.channels}`);
      if (h !== m.input.height || w !== m.input.width) problems.push(`input size: ONNX ${h}x${w}, manifest ${m.input.height}x${m.input.width}`);
      if (m.input.dynamic_batch && typeof n === "number") problems.push(`input batch axis is fixed at ${n} but the manifest says dynamic`);
    }
    if (input.type !== "float32") problems.push(`input type is ${input.type}, expected float32`);
  }
  for (const name of [m.outputs.map, m.outputs.score, m.outputs.features]) {
    if (name && !outputs.some((o) => o.name === name)) problems.push(`output '${name}' not in the ONNX (it has ${outputs.map((o) => o.name).join(", ")})`);
  }
  const map = outputs.find((o) => o.name === m.outputs.map);
  if (map && map.shape.length !== 4) problems.push(`output '${map.name}' has rank ${map.shape.length}, expected [N,1,h,w]`);
  const features = outputs.find((o) => o.name === m.outputs.features);
  if (features && features.shape.length !== 4) problems.push(`output '${features.name}' has rank ${features.shape.length}, expected [N,C,h,w]`);
  if (m.input.mean.length !== m.input.channels || m.input.std.length !== m.input.channels) problems.push("mean and std need one value per input channel");
  return problems;
}

/** The fixed nearest-neighbour graph of feature banks (training/make_nn_graph.py). */
export const nnGraphPath = join(packageRoot, "models", "nn-distance.onnx");

/** One batch's result: a TileMap per tile, and how long the model took. */
export interface BatchResult {
  maps: TileMap[];
  ms: number;
  /** Of `ms`, the nearest-neighbour search of feature banks, ms. */
  nn_ms?: number;
}

/** Patch features of a batch: N x C x h x w, and [C, h, w]. */
export interface FeatureBatch {
  features: Float32Array;
  dims: number[];
}

/** Most inference workers `model.workers: 0` starts on the CPU provider (each holds the model and its arena). */
export const MAX_AUTO_WORKERS = 4;

/**
 * How many inference workers run a model, and how many intra-op threads each gives the CPU
 * provider. `workers: 0` means one per core up to {@link MAX_AUTO_WORKERS} when the CPU provider
 * runs the model and one on a GPU; `threads: 0` shares the cores out among the workers, at least
 * one each. On this project's 2-core box two single-threaded sessions side by side gave 704-729
 * tiles/s of magtile-student 0.4.0 against 612-628 for one session on two threads
 * (bench/README.md, ninth session): a small model's operators are too short to split between
 * threads without waiting at each one's end.
 */
export function workerPlan(cfg: Pick<ModelConfig, "workers" | "threads">, provider: string, cores = availableParallelism()): { workers: number; threads: number } {
  const workers = cfg.workers > 0 ? cfg.workers : provider === "cpu" ? Math.max(1, Math.min(MAX_AUTO_WORKERS, cores)) : 1;
  const threads = cfg.threads > 0 ? cfg.threads : Math.max(1, Math.floor(cores / workers));
  return { workers, threads };
}

/**
 * Batches the pipeline keeps in flight for `workers` workers (1 when absent): one running in each
 * and one queued behind it, so a worker that ends a batch finds the next one ready. Against one
 * more than workers, this ran 4 % more tiles/s with two saturated workers (paired, ahead in 4
 * rounds of 5) at +20 ms p50 latency under saturation (bench/README.md, ninth session). The
 * engine keeps as many spare input buffers, and two more.
 */
export function batchesInFlight(workers: number | undefined): number {
  return 2 * Math.max(1, workers ?? 1);
}

/**
 * How long a spare input buffer may sit unused before the engine lets it go, ms: a minute without
 * a batch that needed it means the load that made it has passed.
 */
export const SPARE_IDLE_MS = 60_000;

/**
 * An ONNX model in the process's inference workers. `open()` loads it with the first execution
 * provider that works (in one worker, then in as many more as {@link workerPlan} gives), checks
 * the ONNX against its manifest and warms every worker up; `run()` infers one batch of tiles on
 * the least busy worker; `close()` releases the sessions.
 */
export class InferenceEngine {
  provider = "";
  /** Workers the model is loaded in, and intra-op threads each (see {@link workerPlan}). */
  workers = 1;
  threads = 1;
  private readonly host = InferenceHost.get();
  private readonly session = this.host.newSession();
  private closed = false;
  /**
   * Input buffers the worker handed back, for the next batches (no allocation per batch), oldest
   * return first; `at` is when each came back.
   */
  private readonly spare: { buf: ArrayBuffer; at: number }[] = [];
  /** Milliseconds on a monotonic clock, for the spares' ages (a test may turn it forward). */
  clock: () => number = () => performance.now();
  /** Feature banks sent to the worker, by the object they came from. */
  private readonly banks = new WeakMap<object, number>();

  constructor(
    readonly dir: string,
    readonly manifest: ModelManifest,
    private readonly cfg: ModelConfig,
    private readonly log: Logger,
  ) {}

  /**
   * Loads the model in `cfg.dir`; throws ModelError with a clear message when it cannot.
   * `warmupBatch`: the warm-up runs a batch this large, the largest the caller will send. ONNX
   * Runtime's CPU arena grows to the largest batch it has run and keeps that memory, so warming
   * up at batch 1 left the daemon's RSS to step up 30-45 MB at the first burst that filled a
   * batch (this model, batch 1 -> 8: 86 -> 151 MB in a bare session) and stay there; warming up
   * at the largest batch takes that memory at start, where a user sees it (the sessions run
   * without a memory pattern, whose block would come on the second run: inferWorker.ts).
   */
  static async open(cfg: ModelConfig, log: Logger, warmupBatch = 1): Promise<InferenceEngine> {
    const manifest = readManifest(cfg.dir);
    if (!existsSync(join(cfg.dir, "model.onnx"))) throw new ModelError(`${join(cfg.dir, "model.onnx")} does not exist`, cfg.dir);
    const engine = new InferenceEngine(cfg.dir, manifest, cfg, log);
    await engine.start(Math.max(1, Math.floor(warmupBatch)));
    return engine;
  }

  /** Calls `fn` if the inference worker dies (the process must then restart). */
  onFatal(fn: (err: Error) => void): void {
    this.host.onDeath(fn);
  }

  /** Size of one input tile, in float32 values. */
  get inputSize(): number {
    const i = this.manifest.input;
    return i.channels * i.height * i.width;
  }

  /** The init request for one worker. */
  private initRequest(providers: ModelConfig["providers"], threads: number): WorkerRequest {
    const m = this.manifest;
    return {
      op: "init",
      session: this.session,
      modelPath: join(this.dir, "model.onnx"),
      providers,
      threads,
      inputName: m.input.name,
      mapName: m.outputs.map,
      scoreName: m.outputs.score,
      inputDims: [m.input.channels, m.input.height, m.input.width],
      calibration: m.calibration,
      featuresName: m.outputs.features ?? null,
      nnGraphPath,
    };
  }

  private async start(warmupBatch: number): Promise<void> {
    const m = this.manifest;
    // The first worker finds the provider; its thread count assumes the CPU one (GPU providers
    // use intra-op threads only for the nodes they leave to the CPU).
    const first = workerPlan(this.cfg, "cpu");
    const reply = await this.host.request(this.initRequest(this.cfg.providers, first.threads));
    if (reply.op !== "init") throw new ModelError(`unexpected reply from the inference worker: ${reply.op === "error" ? reply.error : reply.op}`, this.dir);
    for (const s of reply.skipped) this.log.warn({ provider: s.provider, err: s.error }, "execution provider unavailable, trying the next");
    if (!reply.ok) throw new ModelError(`no execution provider could load ${join(this.dir, "model.onnx")}: ${reply.skipped.map((s) => `${s.provider}: ${s.error}`).join("; ")}`, this.dir);
    const problems = checkModelIo(m, reply.inputs, reply.outputs);
    if (problems.length) {
      await this.close();
      throw new ModelError(`${join(this.dir, "model.onnx")} disagrees with its manifest: ${problems.join("; ")}`, this.dir);
    }
    this.provider = reply.provider;
    const plan = workerPlan(this.cfg, reply.provider);
    this.threads = reply.provider === "cpu" ? plan.threads : first.threads;
    // The other workers load it with the provider the first one found, in parallel.
    const more = await Promise.all(
      Array.from({ length: plan.workers - 1 }, (_, i) =>
        this.host.request(this.initRequest(this.cfg.providers.filter((p) => p.kind === reply.provider), this.threads), [], i + 1),
      ),
    );
    this.workers = plan.workers;
    const failed = more.find((r) => r.op !== "init" || !r.ok);
    if (failed) {
      await this.close();
      const why = failed.op === "init" ? failed.skipped.map((s) => `${s.provider}: ${s.error}`).join("; ") : failed.op === "error" ? failed.error : failed.op;
      throw new ModelError(`${join(this.dir, "model.onnx")} loaded in the first inference worker but not in another: ${why}`, this.dir);
    }
    const t0 = performance.now();
    await Promise.all(Array.from({ length: this.workers }, () => this.runRaw(new Float32Array(this.inputSize * warmupBatch), warmupBatch)));
    this.log.info({ model: m.name, version: m.version, provider: this.provider, workers: this.workers, threads: this.threads, warmup_batch: warmupBatch, warmup_ms: Math.round(performance.now() - t0) }, "model loaded");
  }

  /**
   * A zeroed-or-stale buffer for `n` packed inputs, reused from earlier batches where one is big
   * enough. Fill it (e.g. with sampleTile on subarrays) and pass it to runPacked or runRaw.
   *
   * The smallest spare that fits is taken, the one back last among equals: the spares a backlog
   * added beyond what the load keeps in use then sit untouched and are let go after
   * {@link SPARE_IDLE_MS} (a buffer over glibc's mmap threshold goes back to the system when
   * collected), instead of staying for the process's life.
   */
  inputBuffer(n: number): Float32Array {
    const bytes = n * this.inputSize * 4;
    this.trimSpares(this.clock());
    let best = -1;
    for (let i = this.spare.length - 1; i >= 0; i--) {
      const len = this.spare[i].buf.byteLength;
      if (len >= bytes && (best < 0 || len < this.spare[best].buf.byteLength)) best = i;
    }
    const buf = best >= 0 ? this.spare.splice(best, 1)[0].buf : new ArrayBuffer(bytes);
    return new Float32Array(buf, 0, n * this.inputSize);
  }

  /** Spare input buffers held for the next batches: how many and their bytes. */
  get spareBuffers(): { count: number; bytes: number } {
    return { count: this.spare.length, bytes: this.spare.reduce((sum, s) => sum + s.buf.byteLength, 0) };
  }

  /** Lets go of the spares unused for SPARE_IDLE_MS (the oldest are first). */
  private trimSpares(now: number): void {
    while (this.spare.length > 0 && now - this.spare[0].at > SPARE_IDLE_MS) this.spare.shift();
  }

  /**
   * Runs `n` inputs packed in one buffer; the buffer is transferred to the worker (and comes back to
   * the pool). `banks` names, per input, a feature bank to fuse its map with (0: none); `features`
   * asks for the features output too.
   */
  async runRaw(input: Float32Array, n: number, opts: { banks?: Int32Array; features?: boolean } = {}): Promise<RunReply> {
    if (this.closed) throw new Error("the inference engine is closed");
    const worker = this.host.leastBusy(this.workers);
    const reply = await this.host.request({ op: "run", session: this.session, id: this.host.newId(), n, input, ...opts }, [input.buffer as ArrayBuffer], worker);
    if (reply.op === "error") throw new Error(`inference failed: ${reply.error}`);
    if (reply.op !== "run") throw new Error(`unexpected reply from the inference worker: ${reply.op}`);
    // Keep a few: the batches in flight, one being filled and one more; past that, the one unused longest goes.
    this.spare.push({ buf: reply.input, at: this.clock() });
    if (this.spare.length > batchesInFlight(this.workers) + 2) this.spare.shift();
    return reply;
  }

  /** Infers one batch of tiles and returns their calibrated maps. */
  async run(tiles: readonly Tile[]): Promise<BatchResult> {
    return this.runPacked(this.pack(tiles), tiles);
  }

  /** The tiles' inputs packed in one pooled buffer, in order. */
  private pack(tiles: readonly Tile[]): Float32Array {
    const packed = this.inputBuffer(tiles.length);
    tiles.forEach((t, i) => packed.set(t.input, i * this.inputSize));
    return packed;
  }

  /**
   * Infers a batch whose inputs are already packed in `input` (from inputBuffer), one per entry of
   * `tiles` in order; the tiles' own `input` is not read. Saves a copy per tile.
   */
  async runPacked(input: Float32Array, tiles: readonly Omit<Tile, "input">[]): Promise<BatchResult> {
    const banks = tiles.some((t) => t.bank) ? Int32Array.from(tiles, (t) => t.bank ?? 0) : undefined;
    const r = await this.runRaw(input, tiles.length, { banks });
    const plane = r.map_height * r.map_width;
    const maps = tiles.map<TileMap>((t, i) => ({
      frame_key: t.frame_key,
      index: t.index,
      count: t.count,
      rect: t.rect,
      map: r.maps.subarray(i * plane, (i + 1) * plane),
      map_width: r.map_width,
      map_height: r.map_height,
      score: r.scores ? r.scores[i] : undefined,
    }));
    return { maps, ms: r.ms, nn_ms: r.nn_ms };
  }

  /** The patch features of a batch of tiles (the model's "features" output). */
  async features(tiles: readonly Tile[]): Promise<FeatureBatch> {
    const r = await this.runRaw(this.pack(tiles), tiles.length, { features: true });
    if (!r.features || !r.feature_dims) throw new Error("the model returned no features");
    return { features: r.features, dims: r.feature_dims };
  }

  /** Builds a calibrated feature bank in the worker from parts' patch rows (see featureBank.ts). */
  async buildBank(parts: Float32Array[], dim: number, max: number): Promise<Omit<BankData, "weight"> & { ms: number }> {
    const reply = await this.host.request({ op: "bank_build", session: this.session, id: this.host.newId(), parts, dim, max }, parts.map((p) => p.buffer as ArrayBuffer), this.host.leastBusy(this.workers));
    if (reply.op === "error") throw new Error(`building the feature bank failed: ${reply.error}`);
    if (reply.op !== "bank_built") throw new Error(`unexpected reply from the inference worker: ${reply.op}`);
    return { features: reply.features, dim, count: reply.count, calibration: reply.calibration, ms: reply.ms };
  }

  /**
   * The worker's id of the bank of `owner` (a reference), sending the bank first if it has not
   * been sent: tiles run with that id after this call get their maps fused with it.
   */
  bankFor(owner: object, data: BankData): number {
    let id = this.banks.get(owner);
    if (id !== undefined) return id;
    id = this.host.newId();
    this.banks.set(owner, id);
    const { features, dim, count, calibration, weight } = data;
    // A copy goes to every worker (the reference keeps its own for saving), before any run that names it.
    for (let k = 0; k < this.workers; k++) {
      const req = { op: "bank_set" as const, session: this.session, id: k === 0 ? id : this.host.newId(), bank: id, features: Float32Array.from(features), dim, count, calibration, weight };
      this.host.request(req, [], k).then(
        (r) => r.op === "error" && this.log.error({ err: r.error }, "feature bank not loaded"),
        (err: Error) => this.log.error({ err: err.message }, "feature bank not loaded"),
      );
    }
    return id;
  }

  /** Drops the bank of `owner` from the worker, after the runs already sent. */
  releaseBank(owner: object): void {
    const id = this.banks.get(owner);
    if (id === undefined) return;
    this.banks.delete(owner);
    for (let k = 0; k < this.workers; k++) this.host.request({ op: "bank_drop", session: this.session, id: this.host.newId(), bank: id }, [], k).catch(() => undefined);
  }

  /** Releases the session; safe twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(
      Array.from({ length: this.workers }, (_, k) =>
        this.host.request({ op: "release", session: this.session, id: this.host.newId() }, [], k).catch(() => {
          // A dead worker has released everything already.
        }),
      ),
    );
  }
}
