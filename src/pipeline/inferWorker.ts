/**
 * An inference worker thread: the only module that imports onnxruntime-node, because
 * session.run() blocks the thread it runs on. As many as the model's `workers` (see
 * InferenceHost), each hosting the sessions it was asked to load.
 */
import { availableParallelism } from "node:os";
import { parentPort, threadId } from "node:worker_threads";
import * as ort from "onnxruntime-node";
import type { ProviderConfig } from "../config/schema.js";
import { yieldToMainThread } from "./inferPriority.js";
import { buildBank, fuseDistances } from "./featureBank.js";
import type { BankBuiltReply, BankData, InitReply, RunReply, WorkerReply, WorkerRequest } from "./inferProtocol.js";

interface SessionState {
  session: ort.InferenceSession;
  inputName: string;
  mapName: string;
  scoreName: string | null;
  dims: number[];
  calib: { offset: number; scale: number };
  featuresName: string | null;
}

/** A feature bank as the nearest-neighbour graph takes it. */
interface BankState {
  m2t: ort.Tensor;
  sq: ort.Tensor;
  dim: number;
  calibration: BankData["calibration"];
  weight: number;
}

/**
 * Session options every session here shares.
 * - Pool threads do not spin while they wait (ONNX Runtime's default spins), which burnt cores
 *   the main thread (tiles, stitching) and capture need: measured +5-15 % raw throughput at 2
 *   threads on a shared box.
 * - No memory pattern. With one, the second run of an input shape allocates all of that run's
 *   intermediate tensors as one block from the CPU arena, which cannot reuse the pieces the first
 *   run left and grows by that block, and keeps it (a bare session, batch 8 of the default
 *   model: +30 MB on the second run with the pattern, +7 without; the same speed from the second
 *   run on). In the daemon the pattern's block for the largest batch came with the first backlog
 *   and stayed: +64 MB of a 40 s CPU burst's +78 MB inside ONNX Runtime (bench/README,
 *   sixteenth and seventeenth sessions).
 */
const QUIET_MEMORY = {
  interOpNumThreads: 1,
  enableMemPattern: false,
  extra: { session: { intra_op: { allow_spinning: "0" } } },
} satisfies ort.InferenceSession.SessionOptions;

const sessions = new Map<number, SessionState>();
/** Feature banks by id (ids are unique in the process, see InferenceHost.newId). */
const banks = new Map<number, BankState>();
/** models/nn-distance.onnx, loaded on the first use of a bank; CPU, as many threads as the model. */
let nnGraph: { path: string; threads: number; session?: Promise<ort.InferenceSession> } | null = null;

function nnSession(): Promise<ort.InferenceSession> {
  if (!nnGraph) throw new Error("no model loaded");
  nnGraph.session ??= ort.InferenceSession.create(nnGraph.path, {
    executionProviders: ["cpu"],
    intraOpNumThreads: intraOpThreads(nnGraph.threads),
    ...QUIET_MEMORY,
  });
  return nnGraph.session;
}

/** The bank in the layout the graph takes: -2 x features transposed [dim, count], squared norms [count]. */
function bankState(d: BankData): BankState {
  const { features, dim, count } = d;
  const m2t = new Float32Array(dim * count);
  const sq = new Float32Array(count);
  for (let j = 0; j < count; j++) {
    let s = 0;
    for (let c = 0; c < dim; c++) {
      const v = features[j * dim + c];
      m2t[c * count + j] = -2 * v;
      s += v * v;
    }
    sq[j] = s;
  }
  return { m2t: new ort.Tensor("float32", m2t, [dim, count]), sq: new ort.Tensor("float32", sq, [count]), dim, calibration: d.calibration, weight: d.weight };
}

/** Nearest-neighbour distances of features laid out [N, C, h, w] (`dims`) to a bank: N x h x w. */
async function distances(features: Float32Array, dims: number[], bank: BankState): Promise<Float32Array> {
  const nn = await nnSession();
  const x = new ort.Tensor("float32", features, dims);
  const out = await nn.run({ features: x, bank_m2t: bank.m2t, bank_sq: bank.sq });
  const d = Float32Array.from(out.distance.data as Float32Array);
  out.distance.dispose?.();
  x.dispose?.();
  return d;
}

/** Rows (n x dim) -> one [dim, 1, n] input of the graph. */
function channelsFirst(rows: Float32Array, n: number, dim: number): Float32Array {
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) for (let c = 0; c < dim; c++) out[c * n + i] = rows[i * dim + c];
  return out;
}

async function build(req: Extract<WorkerRequest, { op: "bank_build" }>): Promise<BankBuiltReply> {
  const t0 = performance.now();
  const b = await buildBank(req.parts, req.dim, req.max, (q, n, bank, m, dim) =>
    distances(channelsFirst(q, n, dim), [1, dim, 1, n], bankState({ features: bank, dim, count: m, calibration: { offset: 0, scale: 1 }, weight: 1 })),
  );
  return { op: "bank_built", session: req.session, id: req.id, ...b, ms: performance.now() - t0 };
}

function providerOption(p: ProviderConfig): ort.InferenceSession.ExecutionProviderConfig {
  if (p.kind === "cpu") return "cpu";
  return { name: p.kind, deviceId: p.device_id } as ort.InferenceSession.ExecutionProviderConfig;
}

/**
 * Intra-op threads: the number the engine worked out (workerPlan), or for 0 one per core. The main
 * thread's work (tiles, stitching, decisions) does not need a core of its own: the model's threads
 * run at a lower priority (see {@link yieldToMainThread}), so the main thread takes a core the
 * moment it has work and the model has every cycle it leaves (bench/README.md has the measurements).
 */
function intraOpThreads(configured: number): number {
  return configured > 0 ? configured : availableParallelism();
}

yieldToMainThread();

/**
 * The outputs to fetch: the model's outputs in its own order, up to the last one needed, then
 * picked by name. onnxruntime-node 1.23 returns a subset of the fetches under the wrong names
 * unless they are the model's first outputs in order (onnxruntime issue #26865, fixed upstream by
 * PR #26939): asking for [map] of a [features, map] model gives the features. A prefix is always
 * right, and leaves out the features when no bank needs them (a copy of 64 x 32 x 32 per tile).
 */
function fetches(s: SessionState, withFeatures: boolean): string[] {
  const names = s.session.outputNames;
  const needed = [s.mapName, s.scoreName, withFeatures ? s.featuresName : null].filter((n): n is string => n !== null);
  return names.slice(0, Math.max(...needed.map((n) => names.indexOf(n))) + 1);
}

function describe(meta: readonly ort.InferenceSession.ValueMetadata[]) {
  return meta.map((m) => ({ name: m.name, shape: m.isTensor ? m.shape.map((d) => (typeof d === "number" && d >= 0 ? d : String(d))) : [], type: m.isTensor ? m.type : "non-tensor" }));
}

async function init(req: Extract<WorkerRequest, { op: "init" }>): Promise<InitReply> {
  const skipped: { provider: string; error: string }[] = [];
  for (const p of req.providers) {
    try {
      const session = await ort.InferenceSession.create(req.modelPath, {
        executionProviders: [providerOption(p)],
        graphOptimizationLevel: "all",
        intraOpNumThreads: intraOpThreads(req.threads),
        executionMode: "sequential",
        ...QUIET_MEMORY,
      });
      sessions.set(req.session, { session, inputName: req.inputName, mapName: req.mapName, scoreName: req.scoreName, dims: req.inputDims, calib: req.calibration, featuresName: req.featuresName });
      nnGraph ??= { path: req.nnGraphPath, threads: req.threads };
      return { op: "init", session: req.session, ok: true, provider: p.kind, skipped, inputs: describe(session.inputMetadata), outputs: describe(session.outputMetadata) };
    } catch (err) {
      skipped.push({ provider: p.kind, error: (err as Error).message.split("\n")[0] });
    }
  }
  return { op: "init", session: req.session, ok: false, skipped };
}

async function run(req: Extract<WorkerRequest, { op: "run" }>): Promise<RunReply> {
  const s = sessions.get(req.session);
  if (!s) throw new Error("the model is not loaded");
  const t0 = performance.now();
  const input = new ort.Tensor("float32", req.input.subarray(0, req.n * s.dims.reduce((a, b) => a * b, 1)), [req.n, ...s.dims]);
  const useBanks = req.banks?.some((b) => b !== 0) ?? false;
  if ((req.features || useBanks) && !s.featuresName) throw new Error("the model has no features output: it cannot take a feature reference");
  const out = await s.session.run({ [s.inputName]: input }, fetches(s, req.features || useBanks));
  const map = out[s.mapName];
  const [, , mh, mw] = map.dims as number[];
  // Copy out of ORT's buffer into one we own (and transfer), calibrating on the way.
  const src = map.data as Float32Array;
  const maps = new Float32Array(src.length);
  const { offset, scale } = s.calib;
  const inv = 1 / scale;
  for (let i = 0; i < src.length; i++) maps[i] = (src[i] - offset) * inv;
  let features: Float32Array | null = null;
  let featureDims: number[] | null = null;
  const t1 = performance.now();
  if (s.featuresName && (req.features || useBanks)) {
    const f = out[s.featuresName];
    featureDims = (f.dims as number[]).slice(1);
    const all = f.data as Float32Array;
    const per = featureDims.reduce((a, b) => a * b, 1);
    const [, fh, fw] = featureDims;
    // One search per run of consecutive tiles with the same bank (usually the whole batch).
    for (let i = 0, j = 0; useBanks && i < req.n; i = j) {
      const id = req.banks![i];
      for (j = i + 1; j < req.n && req.banks![j] === id; j++);
      const bank = banks.get(id);
      if (!bank) continue;
      const d = await distances(all.subarray(i * per, j * per), [j - i, ...featureDims], bank);
      for (let t = i; t < j; t++) {
        const k = t - i;
        fuseDistances(maps.subarray(t * mh * mw, (t + 1) * mh * mw), mh, mw, d.subarray(k * fh * fw, (k + 1) * fh * fw), fh, fw, bank.calibration, bank.weight);
      }
    }
    if (req.features) features = Float32Array.from(all);
  }
  const nnMs = performance.now() - t1;
  let scores: Float32Array | null = null;
  if (s.scoreName) {
    const sc = out[s.scoreName].data as Float32Array;
    scores = new Float32Array(req.n);
    for (let i = 0; i < req.n; i++) scores[i] = (sc[i] - offset) * inv;
  }
  for (const t of Object.values(out)) t.dispose?.();
  input.dispose?.();
  return {
    op: "run",
    session: req.session,
    id: req.id,
    maps,
    map_height: mh,
    map_width: mw,
    scores,
    features,
    feature_dims: featureDims,
    ms: performance.now() - t0,
    nn_ms: nnMs,
    input: req.input.buffer as ArrayBuffer,
    worker: threadId,
  };
}

function send(r: WorkerReply): void {
  const transfer: ArrayBuffer[] = [];
  if (r.op === "run") {
    transfer.push(r.maps.buffer as ArrayBuffer, r.input);
    if (r.scores) transfer.push(r.scores.buffer as ArrayBuffer);
    if (r.features) transfer.push(r.features.buffer as ArrayBuffer);
  } else if (r.op === "bank_built") transfer.push(r.features.buffer as ArrayBuffer);
  parentPort!.postMessage(r, transfer);
}

// Runs one after another: the sender may queue the next batch while one runs, so the model never
// waits for the main thread, but two runs must not split the cores between them.
let queue: Promise<unknown> = Promise.resolve();

parentPort!.on("message", (req: WorkerRequest) => {
  const id = "id" in req ? req.id : 0;
  const fail = (err: unknown) => send({ op: "error", session: req.session, id, error: (err as Error)?.message ?? String(err) });
  if (req.op === "init") init(req).then(send, fail);
  else if (req.op === "run") queue = queue.then(() => run(req).then(send, fail));
  // Set at once, so a run sent after it finds the bank; dropped in turn, so a run sent before still does.
  else if (req.op === "bank_set") {
    try {
      banks.set(req.bank, bankState(req));
      send({ op: "bank_done", session: req.session, id });
    } catch (err) {
      fail(err);
    }
  } else if (req.op === "bank_drop") queue = queue.then(() => {
    banks.delete(req.bank);
    send({ op: "bank_done", session: req.session, id });
  });
  else if (req.op === "bank_build") queue = queue.then(() => build(req).then(send, fail));
  else if (req.op === "release") {
    const s = sessions.get(req.session);
    sessions.delete(req.session);
    Promise.resolve(s?.session.release()).then(() => send({ op: "released", session: req.session, id }), fail);
  }
});
