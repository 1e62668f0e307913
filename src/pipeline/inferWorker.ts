/**
 * The inference worker thread: the only module that imports onnxruntime-node, because
 * session.run() blocks the thread it runs on. One per process (see inferProtocol.ts), hosting
 * every session.
 */
import { availableParallelism } from "node:os";
import { parentPort } from "node:worker_threads";
import * as ort from "onnxruntime-node";
import type { ProviderConfig } from "../config/schema.js";
import { yieldToMainThread } from "./inferPriority.js";
import type { InitReply, RunReply, WorkerReply, WorkerRequest } from "./inferProtocol.js";

interface SessionState {
  session: ort.InferenceSession;
  inputName: string;
  mapName: string;
  scoreName: string | null;
  dims: number[];
  calib: { offset: number; scale: number };
}

const sessions = new Map<number, SessionState>();

function providerOption(p: ProviderConfig): ort.InferenceSession.ExecutionProviderConfig {
  if (p.kind === "cpu") return "cpu";
  return { name: p.kind, deviceId: p.device_id } as ort.InferenceSession.ExecutionProviderConfig;
}

/**
 * Intra-op threads: the configured number, or for 0 one per core. The main thread's work (tiles,
 * stitching, decisions) does not need a core of its own: the model's threads run at a lower
 * priority (see {@link yieldToMainThread}), so the main thread takes a core the moment it has
 * work and the model has every cycle it leaves (bench/README.md has the measurements).
 */
function intraOpThreads(configured: number): number {
  return configured > 0 ? configured : availableParallelism();
}

yieldToMainThread();

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
        interOpNumThreads: 1,
        executionMode: "sequential",
        // Pool threads spin while they wait by default, burning cores the main thread (tiles,
        // stitching) and capture need; measured +5-15 % raw throughput at 2 threads on a shared box.
        extra: { session: { intra_op: { allow_spinning: "0" } } },
      });
      sessions.set(req.session, { session, inputName: req.inputName, mapName: req.mapName, scoreName: req.scoreName, dims: req.inputDims, calib: req.calibration });
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
  const out = await s.session.run({ [s.inputName]: input }, s.scoreName ? [s.mapName, s.scoreName] : [s.mapName]);
  const map = out[s.mapName];
  const [, , mh, mw] = map.dims as number[];
  // Copy out of ORT's buffer into one we own (and transfer), calibrating on the way.
  const src = map.data as Float32Array;
  const maps = new Float32Array(src.length);
  const { offset, scale } = s.calib;
  const inv = 1 / scale;
  for (let i = 0; i < src.length; i++) maps[i] = (src[i] - offset) * inv;
  let scores: Float32Array | null = null;
  if (s.scoreName) {
    const sc = out[s.scoreName].data as Float32Array;
    scores = new Float32Array(req.n);
    for (let i = 0; i < req.n; i++) scores[i] = (sc[i] - offset) * inv;
  }
  for (const t of Object.values(out)) t.dispose?.();
  input.dispose?.();
  return { op: "run", session: req.session, id: req.id, maps, map_height: mh, map_width: mw, scores, ms: performance.now() - t0, input: req.input.buffer as ArrayBuffer };
}

function send(r: WorkerReply): void {
  const transfer = r.op === "run" ? [r.maps.buffer as ArrayBuffer, r.input, ...(r.scores ? [r.scores.buffer as ArrayBuffer] : [])] : [];
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
  else if (req.op === "release") {
    const s = sessions.get(req.session);
    sessions.delete(req.session);
    Promise.resolve(s?.session.release()).then(() => send({ op: "released", session: req.session, id }), fail);
  }
});
