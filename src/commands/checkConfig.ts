import { ConfigError, loadConfig } from "../config/load.js";
import { secretProblems } from "../publish/credentials.js";
import { parseOptions, UsageError } from "./args.js";

/** `linewatch check-config --config FILE`: validates only; exit 0 when good, 2 when not. */
export async function checkConfigCommand(args: string[]): Promise<number> {
  try {
    const { config } = parseOptions(args, { config: { type: "string", short: "c" } }, ["config"]);
    const cfg = loadConfig(config!);
    // The same check `run` makes before loading the model: secret and TLS files must be readable.
    const secrets = secretProblems(cfg.mqtt);
    if (secrets.length) throw new ConfigError(config!, secrets);
    process.stdout.write(`${config}: ok (${cfg.cameras.length} camera${cfg.cameras.length === 1 ? "" : "s"}: ${cfg.cameras.map((c) => `${c.id} (${c.kind})`).join(", ")})\n`);
    return 0;
  } catch (err) {
    if (err instanceof ConfigError || err instanceof UsageError) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    throw err;
  }
}
