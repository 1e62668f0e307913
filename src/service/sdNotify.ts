import { execFile } from "node:child_process";
import { createLogger, type Logger } from "./logger.js";

/** Sends one notify message (newline-separated `KEY=VALUE` lines) to the socket in `env.NOTIFY_SOCKET`. */
export type NotifySender = (message: string, env: NodeJS.ProcessEnv) => Promise<void>;

/**
 * Node has no unix datagram sockets (node:dgram is UDP only) and linewatch ships no native
 * addon, so messages go through systemd's own `systemd-notify`, which waits on a BARRIER=1 until
 * systemd has read them: no race with the helper's exit. The message comes from a child
 * process, so the unit needs `NotifyAccess=all` (`main` would drop it).
 */
export const systemdNotifySender: NotifySender = (message, env) =>
  new Promise((resolve, reject) => {
    execFile("systemd-notify", message.split("\n"), { env, timeout: 10_000 }, (err, _out, stderr) => {
      if (err) reject(new Error(`systemd-notify failed: ${stderr.trim() || err.message}`));
      else resolve();
    });
  });

/** What {@link SdNotify} needs. */
export interface SdNotifyOptions {
  log: Logger;
  /** NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID are read from here; process.env when omitted. */
  env?: NodeJS.ProcessEnv;
  /** How messages are sent; {@link systemdNotifySender} when omitted. */
  sender?: NotifySender;
}

/**
 * The systemd notify protocol: READY=1, STATUS=, STOPPING=1, WATCHDOG=1. Does nothing when
 * $NOTIFY_SOCKET is unset (not run by systemd with Type=notify). A failed send is logged, never
 * thrown: a daemon must not stop because its supervisor cannot hear it.
 */
export class SdNotify {
  private readonly env: NodeJS.ProcessEnv;
  private readonly sender: NotifySender;
  private readonly log: Logger;
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private stalled = false;
  private sent = 0;
  private failed = 0;

  constructor(opts: SdNotifyOptions) {
    this.env = opts.env ?? process.env;
    this.sender = opts.sender ?? systemdNotifySender;
    this.log = opts.log.child({ mod: "sd_notify" });
  }

  /** Whether systemd listens: $NOTIFY_SOCKET is set. */
  get enabled(): boolean {
    return !!this.env.NOTIFY_SOCKET;
  }

  /**
   * Half of $WATCHDOG_USEC in ms (systemd's advice), or undefined when the unit has no
   * WatchdogSec or $WATCHDOG_PID names another process.
   */
  get watchdogIntervalMs(): number | undefined {
    const usec = Number(this.env.WATCHDOG_USEC);
    const pid = this.env.WATCHDOG_PID;
    if (!this.enabled || !Number.isFinite(usec) || usec <= 0 || (pid && Number(pid) !== process.pid)) return undefined;
    return Math.max(1, Math.floor(usec / 2000));
  }

  /** READY=1, with a STATUS= line when given: start-up is complete. */
  ready(status?: string): Promise<void> {
    return this.notify({ READY: "1", ...(status ? { STATUS: status } : {}) });
  }

  /** STATUS=: one line shown by `systemctl status`. */
  status(text: string): Promise<void> {
    return this.notify({ STATUS: text });
  }

  /** STOPPING=1, with a STATUS= line when given: shutdown has begun. Also stops the watchdog. */
  stopping(status?: string): Promise<void> {
    this.stopWatchdog();
    return this.notify({ STOPPING: "1", ...(status ? { STATUS: status } : {}) });
  }

  /** WATCHDOG=1: one keep-alive ping. */
  watchdog(): Promise<void> {
    return this.notify({ WATCHDOG: "1" });
  }

  /**
   * Pings the watchdog every {@link watchdogIntervalMs} while `progressing()` says the pipeline
   * moves; a stuck pipeline stops the pings, so systemd restarts the service. No-op without WatchdogSec.
   */
  startWatchdog(progressing: () => boolean, intervalMs: number | undefined = this.watchdogIntervalMs): void {
    if (intervalMs === undefined || this.timer) return;
    this.timer = setInterval(() => {
      const ok = progressing();
      if (ok) {
        if (this.stalled) this.log.info("pipeline progresses again; watchdog pings resumed");
        void this.watchdog();
      } else if (!this.stalled) {
        this.log.error("pipeline made no progress; withholding watchdog pings so systemd restarts the service");
      }
      this.stalled = !ok;
    }, intervalMs);
    this.timer.unref();
  }

  /** Stops the watchdog pings. Safe twice. */
  stopWatchdog(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Messages sent and failed, for /metrics. */
  stats(): { enabled: boolean; sent: number; failed: number; watchdog_stalled: boolean } {
    return { enabled: this.enabled, sent: this.sent, failed: this.failed, watchdog_stalled: this.stalled };
  }

  /** Sends `KEY=VALUE` fields as one message, in order after earlier ones; newlines in values become spaces. */
  notify(fields: Record<string, string>): Promise<void> {
    if (!this.enabled) return Promise.resolve();
    const message = Object.entries(fields)
      .map(([k, v]) => `${k}=${v.replace(/\n/g, " ")}`)
      .join("\n");
    this.chain = this.chain.then(() =>
      this.sender(message, this.env).then(
        () => void this.sent++,
        (err: Error) => {
          this.failed++;
          this.log.warn({ err: err.message, message }, "sd_notify failed");
        },
      ),
    );
    return this.chain;
  }
}

let shared: SdNotify | undefined;

/**
 * Sends `KEY=VALUE` lines (e.g. "READY=1", "STATUS=inspecting") with one process-wide
 * {@link SdNotify} on process.env; a no-op without $NOTIFY_SOCKET. Failures are logged, not thrown.
 */
export function sdNotify(...lines: string[]): Promise<void> {
  shared ??= new SdNotify({ log: createLogger("info") });
  const fields: Record<string, string> = {};
  for (const l of lines) {
    const eq = l.indexOf("=");
    if (eq > 0) fields[l.slice(0, eq)] = l.slice(eq + 1);
  }
  return shared.notify(fields);
}
