import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { MqttConfig } from "../config/schema.js";

/** A secret named in the config that cannot be read. Never carries the secret itself. */
export class CredentialError extends Error {
  constructor(
    message: string,
    /** Where it was looked for: a file path or `env:NAME`. */
    readonly source: string,
  ) {
    super(message);
    this.name = "CredentialError";
  }
}

function readSecretFile(path: string): string {
  try {
    // One trailing newline is what `echo secret > file` leaves; it is not part of the secret.
    return readFileSync(path, "utf8").replace(/\r?\n$/, "");
  } catch (err) {
    throw new CredentialError(`cannot read the MQTT password file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, path);
  }
}

/**
 * The MQTT password from `password_env` (an environment variable) or `password_file`.
 * A `password_file` without a '/' is a systemd credential name (LoadCredential=), read from
 * $CREDENTIALS_DIRECTORY; paths are files. Returns undefined when neither is configured.
 * @throws {@link CredentialError} when the variable is unset or the file cannot be read.
 */
export function readMqttPassword(cfg: Pick<MqttConfig, "password_env" | "password_file">, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (cfg.password_env) {
    const v = env[cfg.password_env];
    if (v === undefined) throw new CredentialError(`the environment variable ${cfg.password_env} (mqtt.password_env) is not set`, `env:${cfg.password_env}`);
    return v;
  }
  const file = cfg.password_file;
  if (!file) return undefined;
  if (file.includes("/")) return readSecretFile(file);
  const dir = env.CREDENTIALS_DIRECTORY;
  if (!dir) throw new CredentialError(`mqtt.password_file '${file}' is a credential name, but $CREDENTIALS_DIRECTORY is not set (LoadCredential= in the unit, or give a path)`, file);
  return readSecretFile(join(dir, file));
}

/** A broker URL with any user:password part replaced, safe to log. */
export function redactUrl(url: string): string {
  return url.replace(/^(mqtts?:\/\/)[^@/]*@/, "$1***@");
}

/**
 * Every secret and TLS file the MQTT config names that cannot be read now, one line each with
 * its config path (never the secret). Empty when all can be read. For start-up checks.
 */
export function secretProblems(cfg: MqttConfig, env: NodeJS.ProcessEnv = process.env): string[] {
  const problems: string[] = [];
  try {
    readMqttPassword(cfg, env);
  } catch (err) {
    problems.push(`mqtt.${cfg.password_env ? "password_env" : "password_file"}: ${(err as Error).message}`);
  }
  for (const k of ["ca", "cert", "key"] as const) {
    const path = cfg.tls?.[k];
    if (!path) continue;
    try {
      readFileSync(path);
    } catch (err) {
      problems.push(`mqtt.tls.${k}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  return problems;
}
