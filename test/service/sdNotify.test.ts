import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, it } from "node:test";
import { SdNotify } from "../../src/service/sdNotify.js";
import { captureLogger } from "../publish/fixtures.js";

// A stand-in for systemd's notify socket: a unix datagram listener printing each message as JSON.
const LISTENER = `
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print(json.dumps("listening"), flush=True)
while True:
    print(json.dumps(s.recv(65536).decode()), flush=True)
`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("SdNotify against a NOTIFY_SOCKET listener", () => {
  let dir: string;
  let listener: ChildProcess;
  const received: string[] = [];
  let socketPath: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "lw-notify-"));
    socketPath = join(dir, "notify.sock");
    listener = spawn("python3", ["-c", LISTENER, socketPath], { stdio: ["ignore", "pipe", "inherit"] });
    const lines = createInterface({ input: listener.stdout! });
    await new Promise<void>((resolve) =>
      lines.on("line", (l) => {
        const msg = JSON.parse(l) as string;
        if (msg === "listening") resolve();
        // systemd-notify follows each message with a barrier; systemd itself swallows those.
        else if (msg !== "BARRIER=1") received.push(msg);
      }),
    );
  });
  after(() => {
    listener.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  const waitFor = async (msg: string, ms = 3000) => {
    for (const end = Date.now() + ms; Date.now() < end; await sleep(10)) if (received.includes(msg)) return;
    assert.fail(`no '${msg}' within ${ms} ms; got ${JSON.stringify(received)}`);
  };

  it("sends READY=1 with STATUS, then STOPPING=1, in order", async () => {
    const sd = new SdNotify({ log: captureLogger().log, env: { ...process.env, NOTIFY_SOCKET: socketPath } });
    assert.equal(sd.enabled, true);
    await sd.ready("running: 2 cameras\nsecond line");
    await sd.status("degraded: cam_b down");
    await sd.stopping();
    await waitFor("STOPPING=1");
    assert.deepEqual(received.splice(0), ["READY=1\nSTATUS=running: 2 cameras second line", "STATUS=degraded: cam_b down", "STOPPING=1"]);
    assert.deepEqual(sd.stats(), { enabled: true, sent: 3, failed: 0, watchdog_stalled: false });
  });

  it("pings the watchdog at half WATCHDOG_USEC only while the pipeline progresses", async () => {
    const { log, text } = captureLogger();
    const sd = new SdNotify({ log, env: { ...process.env, NOTIFY_SOCKET: socketPath, WATCHDOG_USEC: "200000", WATCHDOG_PID: String(process.pid) } });
    assert.equal(sd.watchdogIntervalMs, 100);
    let progressing = true;
    received.splice(0);
    sd.startWatchdog(() => progressing);
    await sleep(550);
    const pings = received.filter((m) => m === "WATCHDOG=1").length;
    assert.ok(pings >= 2 && pings <= 6, `${pings} pings in 550 ms at 100 ms`);
    progressing = false;
    await sleep(150);
    const before = received.length;
    await sleep(400);
    assert.equal(received.length, before, "no pings while stalled");
    assert.equal(sd.stats().watchdog_stalled, true);
    assert.match(text(), /withholding watchdog pings/);
    progressing = true;
    await sleep(250);
    assert.ok(received.length > before, "pings resume");
    sd.stopWatchdog();
    sd.stopWatchdog();
  });

  it("does nothing without NOTIFY_SOCKET, and no watchdog for another WATCHDOG_PID", async () => {
    let calls = 0;
    const sender = async () => void calls++;
    const off = new SdNotify({ log: captureLogger().log, env: {}, sender });
    await off.ready();
    assert.equal(off.enabled, false);
    assert.equal(off.watchdogIntervalMs, undefined);
    assert.equal(calls, 0);
    const other = new SdNotify({ log: captureLogger().log, env: { NOTIFY_SOCKET: socketPath, WATCHDOG_USEC: "1000000", WATCHDOG_PID: "1" }, sender });
    assert.equal(other.watchdogIntervalMs, undefined);
  });

  it("logs a failed send and carries on", async () => {
    const { log, text } = captureLogger();
    const sd = new SdNotify({ log, env: { ...process.env, NOTIFY_SOCKET: join(dir, "nobody-listens.sock") } });
    await sd.ready();
    assert.equal(sd.stats().failed, 1);
    assert.match(text(), /sd_notify failed/);
  });
});
