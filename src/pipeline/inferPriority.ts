import { readlinkSync } from "node:fs";
import { setPriority } from "node:os";

/** Nice value of the inference threads, above the main thread's and capture's 0. */
export const INFERENCE_NICE = 10;

/**
 * Lowers this thread's scheduling priority; ONNX Runtime's pool threads, created by this thread
 * when a session loads, inherit it (Linux keeps a nice value per thread). The main thread's event
 * loop and the capture threads then preempt inference instead of queueing behind it, which keeps
 * the loop's lag short while inference still takes all the CPU they leave. Returns the thread id,
 * or null where the platform has no per-thread priority (the daemon then runs unchanged).
 */
export function yieldToMainThread(): number | null {
  try {
    const tid = Number(readlinkSync("/proc/thread-self").split("/").pop());
    if (!Number.isInteger(tid) || tid <= 0) return null;
    setPriority(tid, INFERENCE_NICE);
    return tid;
  } catch {
    return null;
  }
}
