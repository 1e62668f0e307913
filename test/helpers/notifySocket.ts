import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

// systemd's side of the notify protocol: a unix datagram socket. Node has none, so python3 listens.
const LISTENER = `
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print(json.dumps("listening"), flush=True)
while True:
    print(json.dumps(s.recv(65536).decode()), flush=True)
`;

/** One notify message and when it arrived (ms since the epoch). */
export interface NotifyMessage {
  text: string;
  at: number;
}

/** A NOTIFY_SOCKET listener standing in for systemd. */
export interface NotifyListener {
  /** The socket path: the daemon's $NOTIFY_SOCKET. */
  path: string;
  /** Messages so far, BARRIER=1 (systemd-notify's sync) left out. */
  messages: NotifyMessage[];
  /** Resolves with the first message (past or future) whose lines include `line`; rejects after `ms`. */
  waitFor(line: string, ms: number, since?: number): Promise<NotifyMessage>;
  stop(): void;
}

/** Starts the listener in a temp folder and resolves once it is bound. */
export async function startNotifyListener(): Promise<NotifyListener> {
  const path = join(mkdtempSync(join(tmpdir(), "lw-notify-")), "notify.sock");
  const proc: ChildProcess = spawn("python3", ["-c", LISTENER, path], { stdio: ["ignore", "pipe", "inherit"] });
  const messages: NotifyMessage[] = [];
  const lines = createInterface({ input: proc.stdout! });
  await new Promise<void>((resolve) =>
    lines.on("line", (l) => {
      const text = JSON.parse(l) as string;
      if (text === "listening") resolve();
      else if (text !== "BARRIER=1") messages.push({ text, at: Date.now() });
    }),
  );
  const has = (since: number, line: string) => messages.find((m) => m.at >= since && m.text.split("\n").includes(line));
  return {
    path,
    messages,
    async waitFor(line, ms, since = 0) {
      for (const end = Date.now() + ms; ; await new Promise((r) => setTimeout(r, 20))) {
        const m = has(since, line);
        if (m) return m;
        if (Date.now() > end) throw new Error(`no '${line}' within ${ms} ms; got ${JSON.stringify(messages.map((x) => x.text))}`);
      }
    },
    stop: () => void proc.kill(),
  };
}
