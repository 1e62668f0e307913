import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { InferenceEngine } from "../src/pipeline/inferenceEngine.js";
import { lagMonitor, loadNow, round, stealMeter } from "./stats.js";

/** Raw model throughput at one batch size. */
export interface RawResult {
  batch: number;
  tiles_per_s: number;
  batch_ms: number;
  runs: number;
  load1: number;
  /**
   * Event-loop lag p99 of this thread while the loop ran, ms: the floor the box's scheduling sets
   * when this thread does nothing but wait (only through the worker).
   */
  idle_loop_lag_p99_ms?: number;
  /** Share of the box's CPU time stolen by the hypervisor during the loop (see stealMeter). */
  steal?: number;
}

/** A deterministic input batch (values of the order of normalised pixels). */
export function rawInput(n: number, size: number): Float32Array {
  const x = new Float32Array(n * size);
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.001) * 1.5;
  return x;
}

/**
 * A bare loop of session.run through the daemon's own workers (InferenceEngine.runRaw): one batch
 * in flight per worker, so every worker is busy and none has a second batch queued. The buffers
 * come from the engine's pool, which the workers hand each one back to, so this thread copies
 * nothing while the loop runs: a copy per batch (6 MB at batch 8) took 0.05 of a core from the
 * model's threads. What a buffer holds (the deterministic input, or tiles of the scenario before)
 * does not change a convolution network's time. `batch_ms` is the time of one batch in one worker.
 */
export async function rawThroughWorker(engine: InferenceEngine, batch: number, seconds: number): Promise<RawResult> {
  const template = rawInput(batch, engine.inputSize);
  const workers = Math.max(1, engine.workers);
  for (let i = 0; i < 3; i++) {
    await Promise.all(
      Array.from({ length: workers }, () => {
        const buf = engine.inputBuffer(batch);
        buf.set(template);
        return engine.runRaw(buf, batch);
      }),
    );
  }
  const load = loadNow();
  const lag = lagMonitor();
  const steal = stealMeter();
  let runs = 0;
  const t0 = performance.now();
  const loop = async () => {
    while (performance.now() - t0 < seconds * 1000) {
      await engine.runRaw(engine.inputBuffer(batch), batch);
      runs++;
    }
  };
  await Promise.all(Array.from({ length: workers }, loop));
  const s = (performance.now() - t0) / 1000;
  lag.stop();
  return { batch, tiles_per_s: round((runs * batch) / s, 1), batch_ms: round((s * 1000 * workers) / runs, 1), runs, load1: load.load1, idle_loop_lag_p99_ms: lag.p99(), steal: steal() };
}

/**
 * The same loop with no worker hop: `processes` child processes side by side (one per inference
 * worker), each a bare loop of session.run with `threads` intra-op threads; tiles/s summed.
 */
export async function rawInChildren(processes: number, modelPath: string, dims: number[], inputName: string, batch: number, seconds: number, threads: number): Promise<RawResult> {
  const rs = await Promise.all(Array.from({ length: Math.max(1, processes) }, () => rawInChild(modelPath, dims, inputName, batch, seconds, threads)));
  const tiles = rs.reduce((s, r) => s + r.tiles_per_s, 0);
  return { batch, tiles_per_s: round(tiles, 1), batch_ms: round(rs.reduce((s, r) => s + r.batch_ms, 0) / rs.length, 1), runs: rs.reduce((s, r) => s + r.runs, 0), load1: rs[0].load1 };
}

/**
 * The same loop with no worker hop, in a child process (its own onnxruntime-node, nothing else
 * running in it). `spin`: ONNX Runtime's default spin-waiting of intra-op threads.
 */
export function rawInChild(modelPath: string, dims: number[], inputName: string, batch: number, seconds: number, threads: number, spin = true): Promise<RawResult> {
  const child = fileURLToPath(new URL("./rawChild.ts", import.meta.url));
  const args = ["--import", "tsx", child, JSON.stringify({ modelPath, dims, inputName, batch, seconds, threads, spin })];
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    p.stdout.on("data", (c: Buffer) => (out += c));
    p.on("error", reject);
    p.on("close", (code) => {
      if (code !== 0) return reject(new Error(`raw child exited with ${code}`));
      try {
        resolve(JSON.parse(out) as RawResult);
      } catch (err) {
        reject(err);
      }
    });
  });
}
