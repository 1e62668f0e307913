/** Shared bits of the capture tests: short timings, a log that can be read back, waiting. */
import { Writable } from "node:stream";
import { Camera, type CameraOptions } from "../../src/capture/index.js";
import { cameraSchema } from "../../src/config/camera.js";
import { createLogger } from "../../src/service/logger.js";
import type { Frame } from "../../src/types.js";

// Each camera holds two libuv pool threads; run the tests with UV_THREADPOOL_SIZE=32 like the daemon.
process.env.UV_THREADPOOL_SIZE ??= "32";

/** Timings short enough for tests. */
export const FAST: CameraOptions = { backoffInitialMs: 100, backoffMaxMs: 400, startTimeoutMs: 3000, stallTimeoutMs: 1500 };

/** A log whose JSON lines are kept for assertions. */
export function memoryLog(): { log: ReturnType<typeof createLogger>; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split("\n")) if (l.trim() !== "") lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { log: createLogger("info", stream), lines };
}

/** A camera from a raw config object (validated by the real schema) and the frames it emits. */
export function camera(raw: Record<string, unknown>, log = memoryLog().log, opts: CameraOptions = FAST): { cam: Camera; frames: Frame[] } {
  const cam = new Camera(cameraSchema.parse(raw), log, opts);
  const frames: Frame[] = [];
  cam.frames$.subscribe((f) => frames.push(f));
  return { cam, frames };
}

/** Resolves when check() is true; rejects after timeoutMs naming what was awaited. */
export async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const t0 = performance.now();
  while (!check()) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
  return performance.now() - t0;
}

/** Waits ms milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Asserts-friendly check that seq runs 0, 1, 2, ... without gaps. */
export function seqGapFree(frames: Frame[]): boolean {
  return frames.every((f, i) => f.seq === i);
}

/** Width and height of a baseline or progressive JPEG, read from its SOF marker. */
export function jpegSize(bytes: Buffer): { width: number; height: number } {
  let i = 2;
  while (i < bytes.length) {
    const marker = bytes[i + 1];
    const len = bytes.readUInt16BE(i + 2);
    if (marker >= 0xc0 && marker <= 0xc3) return { height: bytes.readUInt16BE(i + 5), width: bytes.readUInt16BE(i + 7) };
    i += 2 + len;
  }
  throw new Error("no SOF marker");
}
