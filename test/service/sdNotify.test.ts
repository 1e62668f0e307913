import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { SdNotify } from "../../src/service/sdNotify.js";
import { startNotifyListener, type NotifyListener } from "../helpers/notifySocket.js";
import { captureLogger } from "../publish/fixtures.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("SdNotify against a NOTIFY_SOCKET listener", () => {
  let listener: NotifyListener;
  /** Texts received so far (systemd-notify's BARRIER=1 left out by the listener). */
  const texts = () => listener.messages.map((m) => m.text);

  before(async () => {
    listener = await startNotifyListener();
  });
  after(() => {
    listener.stop();
    rmSync(dirname(listener.path), { recursive: true, force: true });
  });

  const waitFor = async (msg: string, ms = 3000) => {
    for (const end = Date.now() + ms; Date.now() < end; await sleep(10)) if (texts().includes(msg)) return;
    assert.fail(`no '${msg}' within ${ms} ms; got ${JSON.stringify(texts())}`);
  };

  it("sends READY=1 with STATUS, then STOPPING=1, in order", async () => {
    const sd = new SdNotify({ log: captureLogger().log, env: { ...process.env, NOTIFY_SOCKET: listener.path } });
    assert.equal(sd.enabled, true);
    await sd.ready("running: 2 cameras\nsecond line");
    await sd.status("degraded: cam_b down");
    await sd.stopping();
    await waitFor("STOPPING=1");
    assert.deepEqual(listener.messages.splice(0).map((m) => m.text), ["READY=1\nSTATUS=running: 2 cameras second line", "STATUS=degraded: cam_b down", "STOPPING=1"]);
    assert.deepEqual(sd.stats(), { enabled: true, sent: 3, failed: 0, watchdog_stalled: false });
  });

  it("pings the watchdog at half WATCHDOG_USEC only while the pipeline progresses", async () => {
    const { log, text } = captureLogger();
    const sd = new SdNotify({ log, env: { ...process.env, NOTIFY_SOCKET: listener.path, WATCHDOG_USEC: "200000", WATCHDOG_PID: String(process.pid) } });
    assert.equal(sd.watchdogIntervalMs, 100);
    let progressing = true;
    listener.messages.splice(0);
    sd.startWatchdog(() => progressing);
    await sleep(550);
    const pings = texts().filter((m) => m === "WATCHDOG=1").length;
    assert.ok(pings >= 2 && pings <= 6, `${pings} pings in 550 ms at 100 ms`);
    progressing = false;
    await sleep(150);
    const before = listener.messages.length;
    await sleep(400);
    assert.equal(listener.messages.length, before, "no pings while stalled");
    assert.equal(sd.stats().watchdog_stalled, true);
    assert.match(text(), /withholding watchdog pings/);
    progressing = true;
    await sleep(250);
    assert.ok(listener.messages.length > before, "pings resume");
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
    const other = new SdNotify({ log: captureLogger().log, env: { NOTIFY_SOCKET: listener.path, WATCHDOG_USEC: "1000000", WATCHDOG_PID: "1" }, sender });
    assert.equal(other.watchdogIntervalMs, undefined);
  });

  it("logs a failed send and carries on", async () => {
    const { log, text } = captureLogger();
    const sd = new SdNotify({ log, env: { ...process.env, NOTIFY_SOCKET: join(dirname(listener.path), "nobody-listens.sock") } });
    await sd.ready();
    assert.equal(sd.stats().failed, 1);
    assert.match(text(), /sd_notify failed/);
  });
});
