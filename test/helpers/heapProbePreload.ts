/**
 * Preloaded into a daemon under test (see heapProbe.ts), never imported by the daemon itself: on
 * SIGUSR2 the main thread runs a full garbage collection and writes `process.memoryUsage()` as
 * JSON to `$LINEWATCH_TEST_HEAP_FILE` (through a rename, so a reader never sees half a file).
 */
import { renameSync, writeFileSync } from "node:fs";
import { isMainThread } from "node:worker_threads";

const file = process.env.LINEWATCH_TEST_HEAP_FILE;
// `gc` exists only with --expose-gc, which heapProbeEnv() passes; the inference worker has its own
// heap and no signals, so only the main thread answers.
const gc = (globalThis as { gc?: () => void }).gc;
if (file && isMainThread && gc) {
  process.on("SIGUSR2", () => {
    gc();
    writeFileSync(`${file}.tmp`, JSON.stringify(process.memoryUsage()));
    renameSync(`${file}.tmp`, file);
  });
}
