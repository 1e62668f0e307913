/**
 * The inference worker thread: the only module that imports onnxruntime-node, because
 * session.run() blocks the thread it runs on. Messages are defined in inferProtocol.ts.
 */
import { parentPort } from "node:worker_threads";
import * as ort from "onnxruntime-node";
import type { ProviderConfig } from "../config/schema.js";
import type { InitReply, RunReply, WorkerRequest } from "./inferProtocol.js";

let session: ort.InferenceSession | null = null;
let inputName = "";
let mapName = "";
let scoreName: string | null = null;
let dims: number[] = [];
let calib = { offset: 0, scale: 1 };

function providerOption(p: ProviderConfig): ort.InferenceSession.ExecutionProviderConfig {
  if (p.kind === "cpu") return "cpu";
  return { name: p.kind, deviceId: p.device_id } as ort.InferenceSession.ExecutionProviderConfig;
}

function describe(meta: readonly ort.InferenceSession.ValueMetadata[]) {
  return meta.map((m) => ({ name: m.name, shape: m.isTensor ? m.shape.map((d) => (typeof d === "number" && d >= 0 ? d : String(d))) : [], type: m.isTensor ? m.type : "non-tensor" }));
}

async function init(req: Extract<WorkerRequest, { op: "init" }>): Promise<InitReply> {
  const skipped: { provider: string; error: string }[] = [];
  for (const p of req.providers) {
    try {
      session = await ort.InferenceSession.create(req.modelPath, {
        executionProviders: [providerOption(p)],
        graphOptimizationLevel: "all",
        // 0 lets ONNX Runtime choose; the binding rejects an explicit undefined.
        ...(req.threads > 0 ? { intraOpNumThreads: req.threads } : {}),
        interOpNumThreads: 1,
        executionMode: "sequential",
      });
      inputName = req.inputName;
      mapName = req.mapName;
      scoreName = req.scoreName;
      dims = req.inputDims;
      calib = req.calibration;
      return { op: "init", ok: true, provider: p.kind, skipped, inputs: describe(session.inputMetadata), outputs: describe(session.outputMetadata) };
    } catch (err) {
      skipped.push({ provider: p.kind, error: (err as Error).message.split("\n")[0] });
    }
  }
  return { op: "init", ok: false, skipped };
}

async function run(req: Extract<WorkerRequest, { op: "run" }>): Promise<RunReply> {
  if (!session) throw new Error("the model is not loaded");
  const t0 = performance.now();
  const input = new ort.Tensor("float32", req.input, [req.n, ...dims]);
  const fetches = scoreName ? [mapName, scoreName] : [mapName];
  const out = await session.run({ [inputName]: input }, fetches);
  const map = out[mapName];
  const [, , mh, mw] = map.dims as number[];
  // Copy out of ORT's buffer into one we own, calibrating on the way.
  const src = map.data as Float32Array;
  const maps = new Float32Array(src.length);
  const inv = 1 / calib.scale;
  for (let i = 0; i < src.length; i++) maps[i] = (src[i] - calib.offset) * inv;
  let scores: Float32Array | null = null;
  if (scoreName) {
    const s = out[scoreName].data as Float32Array;
    scores = new Float32Array(req.n);
    for (let i = 0; i < req.n; i++) scores[i] = (s[i] - calib.offset) * inv;
  }
  for (const t of Object.values(out)) t.dispose?.();
  input.dispose?.();
  return { op: "run", id: req.id, maps, map_height: mh, map_width: mw, scores, ms: performance.now() - t0 };
}

parentPort!.on("message", (req: WorkerRequest) => {
  const reply = (r: InitReply | RunReply) => parentPort!.postMessage(r, r.op === "run" ? [r.maps.buffer as ArrayBuffer, ...(r.scores ? [r.scores.buffer as ArrayBuffer] : [])] : []);
  const fail = (err: unknown) => parentPort!.postMessage({ op: "error", id: "id" in req ? req.id : -1, error: (err as Error).message ?? String(err) });
  if (req.op === "init") init(req).then(reply, fail);
  else if (req.op === "run") run(req).then(reply, fail);
  else if (req.op === "close") void session?.release().finally(() => process.exit(0));
});
