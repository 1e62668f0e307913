import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { stringify } from "yaml";

/** The built daemon's entry point; integration tests run what a user runs. */
export const cliPath = resolve("dist/src/cli.cjs");

/** A daemon process started by a test, with its JSON log lines collected. */
export interface RunningDaemon {
  proc: ChildProcess;
  dir: string;
  configPath: string;
  /** Parsed log lines so far. */
  logs: Record<string, unknown>[];
  /** Raw stderr so far. */
  stderr(): string;
  /** Resolves with the first log line (past or future) that `pred` accepts; rejects after `ms`. */
  waitForLog(pred: (l: Record<string, unknown>) => boolean, ms: number): Promise<Record<string, unknown>>;
  /** Resolves with the exit code and signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Writes `config` as YAML into a temp folder and starts `linewatch run` on it. */
export function startDaemon(config: Record<string, unknown>, env: NodeJS.ProcessEnv = {}, nodeArgs: string[] = []): RunningDaemon {
  const dir = mkdtempSync(join(tmpdir(), "lw-daemon-"));
  const configPath = join(dir, "linewatch.yaml");
  writeFileSync(configPath, stringify({ state_dir: join(dir, "state"), ...config }));
  const proc = spawn(process.execPath, [...nodeArgs, cliPath, "run", "--config", configPath], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const logs: Record<string, unknown>[] = [];
  const waiters: { pred: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];
  let buf = "";
  let err = "";
  proc.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    buf += chunk;
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(line) as Record<string, unknown>;
      } catch {
        parsed = { msg: line, unparsed: true };
      }
      logs.push(parsed);
      for (const w of [...waiters]) if (w.pred(parsed)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(parsed);
      }
    }
  });
  proc.stderr!.setEncoding("utf8").on("data", (c: string) => (err += c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => proc.on("exit", (code, signal) => r({ code, signal })));
  return {
    proc, dir, configPath, logs,
    stderr: () => err,
    exited,
    waitForLog(pred, ms) {
      const found = logs.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolveWait, reject) => {
        const w = { pred, resolve: (l: Record<string, unknown>) => { clearTimeout(t); resolveWait(l); } };
        const t = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`no matching log line within ${ms} ms; last lines:\n${logs.slice(-15).map((l) => JSON.stringify(l)).join("\n")}\nstderr: ${err}`));
        }, ms);
        waiters.push(w);
      });
    },
  };
}

/** Writes a config to a temp file without starting anything. */
export function writeConfig(config: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), "lw-cfg-"));
  const p = join(dir, "linewatch.yaml");
  writeFileSync(p, typeof config === "string" ? config : stringify(config));
  return p;
}

/** Resolves with the daemon's exit; rejects after `ms` with its last log lines (a hung shutdown). */
export function exitWithin(d: RunningDaemon, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let t: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    t = setTimeout(() => reject(new Error(`the daemon did not exit within ${ms} ms; last lines:\n${d.logs.slice(-15).map((l) => JSON.stringify(l)).join("\n")}\nstderr: ${d.stderr()}`)), ms);
  });
  return Promise.race([d.exited, late]).finally(() => clearTimeout(t));
}
