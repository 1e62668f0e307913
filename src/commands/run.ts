import { ConfigError, loadConfig } from "../config/load.js";
import { Daemon } from "../main.js";
import { secretProblems } from "../publish/credentials.js";
import { createLogger } from "../service/logger.js";
import { parseOptions, UsageError } from "./args.js";

/** `linewatch run --config FILE`: runs until SIGINT or SIGTERM, then stops cleanly (exit 0). */
export async function runCommand(args: string[]): Promise<number> {
  let cfg;
  try {
    const { config } = parseOptions(args, { config: { type: "string", short: "c" } }, ["config"]);
    cfg = loadConfig(config!);
    // A secret or TLS file that cannot be read is a configuration problem: say so before the model loads.
    const secrets = secretProblems(cfg.mqtt);
    if (secrets.length) throw new ConfigError(config!, secrets);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof UsageError) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const log = createLogger(cfg.log_level);
  const daemon = new Daemon(cfg, log);
  let signals = 0;
  // A signal during start waits for start to settle, then stops what it started: stopping while
  // start() is still bringing stages up would leave the later stages running after the stop.
  let starting: Promise<unknown> = Promise.resolve();
  const stopped = new Promise<number>((resolve) => {
    const onSignal = (sig: NodeJS.Signals) => {
      if (++signals > 1) {
        log.warn({ signal: sig }, "second signal: exiting at once");
        process.exit(1);
      }
      log.info({ signal: sig }, "stopping");
      void starting
        .catch(() => undefined)
        .then(() => daemon.stop())
        .then(() => resolve(0));
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
  try {
    starting = daemon.start();
    await starting;
  } catch (err) {
    log.fatal({ err: (err as Error).message, kind: (err as Error).name }, "linewatch could not start");
    process.stderr.write(`linewatch: ${(err as Error).message}\n`);
    await daemon.stop(5000);
    return 1;
  }
  const code = await stopped;
  // Let pino flush, then leave even if a library keeps a handle open.
  setTimeout(() => process.exit(code), 200).unref();
  return code;
}
