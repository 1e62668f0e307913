import { existsSync } from "node:fs";
import type { Inferencer } from "./pipeline/pipeline.js";
import type { Logger } from "./service/logger.js";
import type { Tile } from "./types.js";

/**
 * Debug only: the environment variable naming a file; while that file exists every inference
 * batch waits (polled every 50 ms) before it reaches the worker, as a hung worker would. The
 * integration tests use it to prove that a stuck pipeline stops the watchdog pings. Never set it
 * in production: the daemon logs a warning when it is set.
 */
export const STALL_FILE_ENV = "LINEWATCH_DEBUG_STALL_FILE";

/** `engine` itself, or, with {@link STALL_FILE_ENV} set, an Inferencer that stalls while the file exists. */
export function stallable(engine: Inferencer, env: NodeJS.ProcessEnv, log: Logger): Inferencer {
  const file = env[STALL_FILE_ENV];
  if (!file) return engine;
  log.warn({ file }, `${STALL_FILE_ENV} is set: inference stalls while this file exists (debug only)`);
  return {
    manifest: engine.manifest,
    async run(tiles: readonly Tile[]) {
      while (existsSync(file)) await new Promise((r) => setTimeout(r, 50));
      return engine.run(tiles);
    },
  };
}
