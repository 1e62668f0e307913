/** What every bench script starts with: a logger that prints nothing, and the model on the CPU provider. */
import { Writable } from "node:stream";
import { InferenceEngine } from "../src/pipeline/inferenceEngine.js";
import { createLogger, type Logger } from "../src/service/logger.js";

/** A logger that writes nothing: the bench's stdout and stderr stay its own. */
export const quietLog: Logger = createLogger("warn", new Writable({ write: (_c, _e, cb) => cb() }));

/** The model in `dir` on the CPU provider: `workers` inference workers of `threads` intra-op threads (0: the daemon's defaults, see workerPlan). */
export function openCpuEngine(dir: string, threads = 0, workers = 0): Promise<InferenceEngine> {
  return InferenceEngine.open({ dir, providers: [{ kind: "cpu" }], workers, threads }, quietLog);
}
