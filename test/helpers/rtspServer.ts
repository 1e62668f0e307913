import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const SERVER = fileURLToPath(new URL("../fixtures/rtsp_server.py", import.meta.url));

/** test/fixtures/rtsp_server.py started by a test: videotestsrc as H.264 at `url`. */
export interface RunningRtspServer {
  url: string;
  proc: ChildProcess;
  /** Kills it (SIGKILL by default) and resolves once it exited. Safe twice. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts the fixture RTSP server on 127.0.0.1:`port` and resolves once it listens. */
export function startRtspServer(port: number, size = "320x240", fps = 15): Promise<RunningRtspServer> {
  const proc = spawn("/usr/bin/python3", [SERVER, String(port), size, String(fps)], { stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  proc.stderr!.on("data", (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const exit = new Promise<void>((r) => proc.once("exit", () => r()));
  const kill = (signal: NodeJS.Signals = "SIGKILL") => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    return exit;
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (void kill(), reject(new Error(`RTSP server did not start in 15 s: ${err}`))), 15_000);
    proc.stdout!.on("data", (d: Buffer) => {
      const m = /READY (\S+)/.exec(d.toString());
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1], proc, kill });
      }
    });
    proc.once("exit", (code) => (clearTimeout(timer), reject(new Error(`RTSP server exited with ${code}: ${err}`))));
  });
}
