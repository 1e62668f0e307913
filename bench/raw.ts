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
 * A bare loop of session.run through the daemon's own worker (InferenceEngine.runRaw): one batch
 * in flight at a time. The buffers come from the engine's pool, which the worker hands each one
 * back to, so this thread copies nothing while the loop runs: a copy per batch (6 MB at batch 8)
 * took 0.05 of a core from the model's threads. What a buffer holds (the deterministic input, or
 * tiles of the scenario before) does not change a convolution network's time.
 */
export async function rawThroughWorker(engine: InferenceEngine, batch: number, seconds: number): Promise<RawResult> {
  const template = rawInput(batch, engine.inputSize);
  for (let i = 0; i < 3; i++) {
    const buf = engine.inputBuffer(batch);
    buf.set(template);
    await engine.runRaw(buf, batch);
  }
  const load = loadNow();
  const lag = lagMonitor();
  const steal = stealMeter();
  let runs = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    await engine.runRaw(engine.inputBuffer(batch), batch);
    runs++;
  }
  const s = (performance.now() - t0) / 1000;
  lag.stop();
  return { batch, tiles_per_s: round((runs * batch) / s, 1), batch_ms: round((s * 1000) / runs, 1), runs, load1: load.load1, idle_loop_lag_p99_ms: lag.p99(), steal: steal() };
}

/**
 * The same loop with no worker hop, in a child process: onnxruntime-node can be loaded in one
 * thread per process only, and this process's worker already holds it.
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
