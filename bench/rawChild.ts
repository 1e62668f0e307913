/**
 * Child process of the bench: a bare session.run loop on the main thread, no worker, no pipeline.
 * Argument: one JSON object {modelPath, dims, inputName, batch, seconds, threads}; prints a RawResult.
 */
import * as ort from "onnxruntime-node";
import { rawInput, type RawResult } from "./raw.js";
import { loadNow, round } from "./stats.js";

const a = JSON.parse(process.argv[2]) as { modelPath: string; dims: number[]; inputName: string; batch: number; seconds: number; threads: number; spin?: boolean };
const session = await ort.InferenceSession.create(a.modelPath, {
  executionProviders: ["cpu"],
  graphOptimizationLevel: "all",
  ...(a.threads > 0 ? { intraOpNumThreads: a.threads } : {}),
  interOpNumThreads: 1,
  executionMode: "sequential",
  // Intra-op threads spin while they wait by default; on a shared box that burns the cores.
  ...(a.spin === false ? { extra: { session: { intra_op: { allow_spinning: "0" } } } } : {}),
});
const size = a.dims.reduce((x, y) => x * y, 1);
const input = new ort.Tensor("float32", rawInput(a.batch, size), [a.batch, ...a.dims]);
for (let i = 0; i < 3; i++) await session.run({ [a.inputName]: input });
const load = loadNow();
let runs = 0;
const t0 = performance.now();
while (performance.now() - t0 < a.seconds * 1000) {
  const out = await session.run({ [a.inputName]: input });
  for (const t of Object.values(out)) t.dispose?.();
  runs++;
}
const s = (performance.now() - t0) / 1000;
const r: RawResult = { batch: a.batch, tiles_per_s: round((runs * a.batch) / s, 1), batch_ms: round((s * 1000) / runs, 1), runs, load1: load.load1 };
process.stdout.write(JSON.stringify(r));
await session.release();
