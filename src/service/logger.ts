import { pino, type Logger } from "pino";

export type { Logger };

/** Fields blanked in every log line, in case a secret is ever handed to a logger by mistake. */
export const REDACTED_PATHS: readonly string[] = ["password", "*.password", "*.*.password", "passphrase", "*.passphrase"];

/** JSON logs to stdout (journald keeps them); a child logger per component: `log.child({ mod: "capture", camera })`. */
export function createLogger(level: string, stream?: NodeJS.WritableStream): Logger {
  return pino({ level, base: { svc: "linewatch" }, timestamp: pino.stdTimeFunctions.isoTime, redact: { paths: [...REDACTED_PATHS], censor: "[redacted]" } }, stream ?? process.stdout);
}
