import { parseArgs, type ParseArgsConfig } from "node:util";
import { ConfigError, loadConfig } from "../config/load.js";
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

/**
 * The start of a command that works on one camera of a config: parses `options` (which hold
 * `config` and `camera`, both required), runs `check` on them, loads the config and finds the
 * camera. Null, with the reason on stderr, for bad options or config: the command exits 2.
 */
export function cameraCommand<T extends NonNullable<ParseArgsConfig["options"]>>(
  command: string,
  args: string[],
  options: T,
  check: (o: ReturnType<typeof parseOptions<T>>) => void = () => {},
): { o: ReturnType<typeof parseOptions<T>>; cfg: Config; cam: CameraConfig } | null {
  try {
    const o = parseOptions(args, options, ["config", "camera"]);
    check(o);
    const { config, camera } = o as Record<string, unknown> as { config: string; camera: string };
    const cfg = loadConfig(config);
    return { o, cfg, cam: findCamera(cfg, camera, config) };
  } catch (err) {
    if (err instanceof ConfigError || err instanceof UsageError) {
      process.stderr.write(`linewatch ${command}: ${err.message}\n`);
      return null;
    }
    throw err;
  }
}
