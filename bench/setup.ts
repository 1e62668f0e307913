/** What every bench script starts with: a logger that prints nothing, and the model on the CPU provider. */
import { Writable } from "node:stream";
import type { Tiling } from "../src/config/schema.js";
import { InferenceEngine } from "../src/pipeline/inferenceEngine.js";
import { tilePlan } from "../src/pipeline/tile.js";
import { createLogger, type Logger } from "../src/service/logger.js";

/** A logger that writes nothing: the bench's stdout and stderr stay its own. */
export const quietLog: Logger = createLogger("warn", new Writable({ write: (_c, _e, cb) => cb() }));

/** The model in `dir` on the CPU provider: `workers` inference workers of `threads` intra-op threads (0: the daemon's defaults, see workerPlan). */
export function openCpuEngine(dir: string, threads = 0, workers = 0): Promise<InferenceEngine> {
  return InferenceEngine.open({ dir, providers: [{ kind: "cpu" }], workers, threads }, quietLog);
}

/** A scenario named CxWxH (cameras x width x height) in the bench's default grid of 512 px tiles with 32 px overlap. */
export interface BenchScenario {
  cameras: number;
  width: number;
  height: number;
  tiling: Tiling;
  tilesPerFrame: number;
  /** Frames per second a camera must offer for the cameras together to offer `tilesPerS`. */
  fpsFor(tilesPerS: number): number;
}

/** Reads a scenario name such as `1x1920x1080`; throws on anything else. */
export function parseScenario(name: string): BenchScenario {
  const [cameras, width, height] = name.split("x").map(Number);
  if (!(Number.isInteger(cameras) && cameras >= 1 && width >= 1 && height >= 1)) throw new Error(`scenario ${name}: expected CAMERASxWIDTHxHEIGHT, e.g. 1x1920x1080`);
  const tiling: Tiling = { mode: "grid", tile: 512, overlap: 32 };
  const tilesPerFrame = tilePlan(width, height, tiling).length;
  return { cameras, width, height, tiling, tilesPerFrame, fpsFor: (tilesPerS) => tilesPerS / cameras / tilesPerFrame };
}
