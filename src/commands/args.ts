import { parseArgs, type ParseArgsConfig } from "node:util";
import type { CameraConfig, Config } from "../config/schema.js";

/** A command line that cannot be used; printed with the command's usage, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Parses a subcommand's options strictly; unknown options and missing values are UsageErrors. */
export function parseOptions<T extends NonNullable<ParseArgsConfig["options"]>>(args: string[], options: T, required: (keyof T & string)[] = []) {
  let parsed;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: false });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const values = parsed.values as Record<string, unknown>;
  for (const r of required) if (values[r] === undefined) throw new UsageError(`--${r} is required`);
  return parsed.values;
}

/** The camera `id` of a loaded config; a UsageError naming the cameras it has otherwise. */
export function findCamera(cfg: Config, id: string, configPath: string): CameraConfig {
  const cam = cfg.cameras.find((c) => c.id === id);
  if (!cam) throw new UsageError(`no camera '${id}' in ${configPath} (it has ${cfg.cameras.map((c) => c.id).join(", ")})`);
  return cam;
}
