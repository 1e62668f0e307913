/**
 * `node --import tsx bench/contention.ts [--seconds N] [--rounds N]`: what main-thread work costs
 * the model. The raw loop of bench/raw.ts runs while this thread does nothing, short bursts of
 * arithmetic, short bursts of memory copies (both 2 ms every 10 ms) or long bursts of arithmetic
 * (20 ms every 100 ms): on a box with as many inference threads as cores, the drop in tiles/s
 * against the share of one core the bursts take says how much a millisecond of main-thread work
 * costs inference. Rounds interleave the loads, so drift in the box's speed hits each alike.
 * Not a test.
 */
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { defaultModelDir } from "../src/config/load.js";
import { openCpuEngine } from "./setup.js";
import { rawThroughWorker } from "./raw.js";
import { mainThreadCpuS, mean, round } from "./stats.js";

const { values: a } = parseArgs({ options: { seconds: { type: "string", default: "4" }, rounds: { type: "string", default: "3" }, batch: { type: "string", default: "8" }, model: { type: "string", default: defaultModelDir } } });
const engine = await openCpuEngine(String(a.model));
const src = new Uint8Array(64 << 20);
const dst = new Uint8Array(64 << 20);
let sink = 0;

/** Starts a load on this thread: `busyMs` of work every `periodMs`; returns its stop function. */
function load(kind: "none" | "alu" | "copy", busyMs: number, periodMs: number): () => void {
  if (kind === "none") return () => undefined;
  let off = 0;
  const t = setInterval(() => {
    const end = performance.now() + busyMs;
    while (performance.now() < end) {
      if (kind === "alu") for (let i = 0; i < 20_000; i++) sink = (sink * 1103515245 + i) | 0;
      else {
        dst.set(src.subarray(off, off + (1 << 20)), off);
        off = (off + (1 << 20)) % (63 << 20);
      }
    }
  }, periodMs);
  return () => clearInterval(t);
}

const loads = { none: () => load("none", 0, 0), "alu 2/10 ms": () => load("alu", 2, 10), "copy 2/10 ms": () => load("copy", 2, 10), "alu 20/100 ms": () => load("alu", 20, 100) };
const tiles: Record<string, number[]> = {};
const cores: Record<string, number[]> = {};
const rounds = Number(a.rounds);
for (let r = 0; r < rounds; r++) {
  for (const [name, start] of Object.entries(loads)) {
    process.stderr.write(`round ${r + 1}/${rounds}: ${name} ...  ETA ${Math.round((rounds - r) * 4 * Number(a.seconds) * 1.2)} s\n`);
    const cpu0 = mainThreadCpuS();
    const t0 = performance.now();
    const stop = start();
    const x = await rawThroughWorker(engine, Number(a.batch), Number(a.seconds));
    stop();
    (tiles[name] ??= []).push(x.tiles_per_s);
    (cores[name] ??= []).push((mainThreadCpuS() - cpu0) / ((performance.now() - t0) / 1000));
  }
}
await engine.close();
const base = mean(tiles.none);
console.log("load\ttiles/s (per round)\tmean\tmain thread, cores\tloss\tloss per main-thread core share");
for (const name of Object.keys(loads)) {
  const m = mean(tiles[name]);
  const c = mean(cores[name]);
  const loss = 1 - m / base;
  // What share of the box the main thread took, against what share of throughput inference lost.
  const share = c / availableParallelism();
  console.log(`${name}\t${tiles[name].join(" ")}\t${round(m, 1)}\t${round(c, 3)}\t${round(loss, 3)}\t${name === "none" ? "-" : round(loss / share, 2)}`);
}
