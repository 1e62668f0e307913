/**
 * `node --import tsx bench/memoryTrace.ts [--seconds 300] [--fps 20] [--out PREFIX]`: 4 cameras of
 * 512x512 (one tile a frame) through the real pipeline, printing RSS, the JS heap and ArrayBuffer
 * memory every 20 s to stderr, then the window's RSS figures on stdout. Tells a leak (heapUsed or
 * arrayBuffers climbing) from the allocator keeping pages (RSS alone rising). With --out, also
 * PREFIX.json (a reading every 5 s and the result) and PREFIX.png (the curves). Not a test.
 */
import { writeFileSync } from "node:fs";
import { basename } from "node:path";
import { parseArgs } from "node:util";
import { writeMemoryChart, type MemorySample } from "./chart.js";
import { defaultModelDir } from "../src/config/load.js";
import { pipelineSchema } from "../src/config/service.js";
import { openCpuEngine, quietLog } from "./setup.js";
import { rawThroughWorker } from "./raw.js";
import { runScenario } from "./scenario.js";
/** Seconds of load before the measured window. */
const WARMUP_S = 15;
const { values: a } = parseArgs({ options: { seconds: { type: "string", default: "300" }, fps: { type: "string", default: "20" }, out: { type: "string" } } });
const engine = await openCpuEngine(defaultModelDir);
const raw = await rawThroughWorker(engine, 8, 3);
const mb = (v: number) => (v / 2 ** 20).toFixed(1);
const t0 = Date.now();
const samples: MemorySample[] = [];
const timer = setInterval(() => {
  const m = process.memoryUsage();
  const t = Math.round((Date.now() - t0) / 1000);
  samples.push({ t, rss: Number(mb(m.rss)), heap_used: Number(mb(m.heapUsed)), array_buffers: Number(mb(m.arrayBuffers)) });
  if (t % 20 < 5) process.stderr.write(`${t}s rss ${mb(m.rss)} heapUsed ${mb(m.heapUsed)} heapTotal ${mb(m.heapTotal)} external ${mb(m.external)} arrayBuffers ${mb(m.arrayBuffers)}\n`);
}, 5_000);
const r = await runScenario({ cameras: 4, width: 512, height: 512, fps_in: Number(a.fps), tiling: { mode: "grid", tile: 512, overlap: 32 }, warmup_s: WARMUP_S, seconds: Number(a.seconds) }, engine, pipelineSchema.parse({ batch_max_tiles: 8, batch_max_wait_ms: 20 }), quietLog, raw, () => {});
clearInterval(timer);
const summary = { rss: [r.rss_start_mb, r.rss_end_mb], rss_first_last_peak: [r.rss_first_mb, r.rss_last_mb, r.rss_peak_mb], fps: r.fps, frames: Math.round(r.fps * Number(a.seconds)), main_thread_cores: r.main_thread_cores };
console.log(JSON.stringify(summary));
if (a.out) {
  const label = basename(a.out);
  const args = process.execArgv.filter((f) => !f.startsWith("--import") && f !== "tsx").join(" ");
  writeFileSync(`${a.out}.json`, `${JSON.stringify({ label, at: new Date().toISOString(), node_flags: args, seconds: Number(a.seconds), fps_per_camera: Number(a.fps), ...summary, samples }, null, 1)}\n`);
  await writeMemoryChart(`${a.out}.png`, samples, WARMUP_S, `${label}: 4 cameras 512x512 at ${a.fps} fps each, ${summary.frames} frames in the window; node ${args || "(no flags)"}`);
  process.stderr.write(`wrote ${a.out}.json and .png\n`);
}
await engine.close();
