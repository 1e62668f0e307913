import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A mosquitto started by a test. */
export interface RunningMosquitto {
  port: number;
  /** mqtt://127.0.0.1:<port> */
  url: string;
  /** Temp folder holding mosquitto.conf; removed by stop(). Put password files etc. here. */
  dir: string;
  proc: ChildProcess;
  /** mosquitto's own log lines so far (stderr), for assertions and failure messages. */
  logs(): string;
  /** Stops it (SIGTERM, SIGKILL after 3 s) and removes `dir` unless `keepDir`. Safe twice. */
  stop(opts?: { signal?: NodeJS.Signals; keepDir?: boolean }): Promise<void>;
}

/** What to start. */
export interface MosquittoOptions {
  /** TCP port; a free one when omitted (give the old port to bring a stopped broker back). */
  port?: number;
  /** Lines added to the listener's config, e.g. `password_file /x`, `cafile ...`; anonymous access is allowed unless these say otherwise. */
  config?: string[];
  /** Use this folder for the config instead of a new temp folder. */
  dir?: string;
  /** How long to wait for the port to accept, ms. Default 5000. */
  timeout_ms?: number;
}

/** A TCP port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const addr = srv.address();
  await new Promise((r) => srv.close(r));
  if (!addr || typeof addr === "string") throw new Error("no port");
  return addr.port;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ port, host: "127.0.0.1" });
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
  });
}

/**
 * Starts a real mosquitto on 127.0.0.1 with a temp config and waits until it accepts connections.
 * Run as root, mosquitto would drop to its own user; the config keeps it root so it can read test files.
 */
export async function startMosquitto(opts: MosquittoOptions = {}): Promise<RunningMosquitto> {
  const port = opts.port ?? (await freePort());
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), "lw-mosquitto-"));
  const extra = opts.config ?? [];
  const hasAuth = extra.some((l) => /^\s*(password_file|allow_anonymous)\b/.test(l));
  const lines = [
    ...(process.getuid?.() === 0 ? ["user root"] : []),
    "persistence false",
    "log_dest stderr",
    "log_type error",
    "log_type warning",
    "log_type notice",
    "per_listener_settings false",
    `listener ${port} 127.0.0.1`,
    ...(hasAuth ? [] : ["allow_anonymous true"]),
    ...extra,
  ];
  const conf = join(dir, "mosquitto.conf");
  writeFileSync(conf, lines.join("\n") + "\n");
  const proc = spawn("mosquitto", ["-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  proc.stderr?.on("data", (d: Buffer) => (log = (log + d.toString()).slice(-20_000)));
  let exited = false;
  const exit = new Promise<void>((r) => proc.once("exit", () => ((exited = true), r())));
  const deadline = Date.now() + (opts.timeout_ms ?? 5000);
  while (!(await accepts(port))) {
    if (exited || Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`mosquitto did not start on port ${port}:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  let stopping: Promise<void> | undefined;
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    dir,
    proc,
    logs: () => log,
    stop: (o = {}) =>
      (stopping ??= (async () => {
        if (!exited) {
          proc.kill(o.signal ?? "SIGTERM");
          const t = setTimeout(() => proc.kill("SIGKILL"), 3000);
          await exit;
          clearTimeout(t);
        }
        if (!o.keepDir && !opts.dir) rmSync(dir, { recursive: true, force: true });
      })()),
  };
}
