import { pino, type Logger } from "pino";

export type { Logger };

/** JSON logs to stdout (journald keeps them); a child logger per component: `log.child({ mod: "capture", camera })`. */
export function createLogger(level: string, stream?: NodeJS.WritableStream): Logger {
  return pino({ level, base: { svc: "linewatch" }, timestamp: pino.stdTimeFunctions.isoTime }, stream ?? process.stdout);
}
