/**
 * `node --import tsx bench/memoryTrace.ts [--seconds 300] [--fps 20]`: 4 cameras of 512x512 (one
 * tile a frame) through the real pipeline, printing RSS, the JS heap and ArrayBuffer memory every
 * 20 s to stderr, then the window's RSS at start and end on stdout. Tells a leak (heapUsed or
 * arrayBuffers climbing) from the allocator keeping pages (RSS alone rising). Not a test.
 */
import { parseArgs } from "node:util";
import { defaultModelDir } from "../src/config/load.js";
import { pipelineSchema } from "../src/config/service.js";
import { openCpuEngine, quietLog } from "./setup.js";
import { rawThroughWorker } from "./raw.js";
import { runScenario } from "./scenario.js";
const { values: a } = parseArgs({ options: { seconds: { type: "string", default: "300" }, fps: { type: "string", default: "20" } } });
const engine = await openCpuEngine(defaultModelDir);
const raw = await rawThroughWorker(engine, 8, 3);
const mb = (v: number) => (v / 2 ** 20).toFixed(1);
const t0 = Date.now();
const timer = setInterval(() => { const m = process.memoryUsage(); process.stderr.write(`${Math.round((Date.now() - t0) / 1000)}s rss ${mb(m.rss)} heapUsed ${mb(m.heapUsed)} heapTotal ${mb(m.heapTotal)} external ${mb(m.external)} arrayBuffers ${mb(m.arrayBuffers)}\n`); }, 20_000);
const r = await runScenario({ cameras: 4, width: 512, height: 512, fps_in: Number(a.fps), tiling: { mode: "grid", tile: 512, overlap: 32 }, warmup_s: 15, seconds: Number(a.seconds) }, engine, pipelineSchema.parse({ batch_max_tiles: 8, batch_max_wait_ms: 20 }), quietLog, raw, () => {});
clearInterval(timer);
console.log(JSON.stringify({ rss: [r.rss_start_mb, r.rss_end_mb], rss_first_last_peak: [r.rss_first_mb, r.rss_last_mb, r.rss_peak_mb], fps: r.fps, main_thread_cores: r.main_thread_cores }));
await engine.close();
