import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";

/**
 * How the systemd unit starts node: ExecStart's node flags and the Environment= assignments
 * (KEY=VALUE words; the unit quotes none), so the soak and the demo measurement run the daemon as
 * the service does. A variable set in the script's own environment wins over the unit's (for A/B
 * runs).
 */
export function unitRuntime(): { nodeFlags: string[]; env: Record<string, string> } {
  const unit = readFileSync(new URL("../systemd/linewatch.service", import.meta.url), "utf8");
  const m = /^ExecStart=\S*node((?: --\S+)*) /m.exec(unit);
  if (!m) throw new Error("systemd/linewatch.service: no ExecStart running node");
  const env: Record<string, string> = {};
  for (const line of unit.matchAll(/^Environment=(.*)$/gm)) {
    for (const word of line[1].trim().split(/\s+/)) {
      const eq = word.indexOf("=");
      if (eq <= 0) throw new Error(`systemd/linewatch.service: Environment word ${JSON.stringify(word)} is not KEY=VALUE`);
      const key = word.slice(0, eq);
      env[key] = process.env[key] ?? word.slice(eq + 1);
    }
  }
  return { nodeFlags: m[1].trim().split(/\s+/).filter(Boolean), env };
}

/**
 * Runs this script with the unit's environment: where a variable the unit sets is missing here,
 * runs the same script again in a child that has it and exits with the child's status. For what
 * a process reads only as it starts (GLIBC_TUNABLES, UV_THREADPOOL_SIZE), so that a bench in this
 * process measures what the service would. Returns the unit's variables as this process has them.
 */
export function withUnitEnvironment(): Record<string, string> {
  const { env } = unitRuntime();
  if (Object.keys(env).every((k) => process.env[k] !== undefined)) return env;
  const r = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { env: { ...process.env, ...env }, stdio: "inherit" });
  process.exit(r.status ?? 1);
}
