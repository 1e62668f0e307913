import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { exitWithin, startDaemon, type RunningDaemon } from "../helpers/daemon.js";
import { freePort, startMosquitto, type RunningMosquitto } from "../helpers/mosquitto.js";
import { startNotifyListener, type NotifyListener } from "../helpers/notifySocket.js";
import { sleep, startPlc, type Plc } from "../helpers/plc.js";

/** WatchdogSec=6 as systemd passes it: pings every 3 s; 3 s without a decision while frames are in flight stops them. */
const WATCHDOG_USEC = 6_000_000;
/** The unit's TimeoutStopSec, s: shutdown must end well within it. */
const TIMEOUT_STOP_S = 30;

describe("systemd supervision: notify, watchdog, SIGTERM (against a NOTIFY_SOCKET listener)", { timeout: 180_000 }, () => {
  let broker: RunningMosquitto;
  let plc: Plc;
  let notify: NotifyListener;
  let daemon: RunningDaemon;
  const stall = join(mkdtempSync(join(tmpdir(), "lw-stall-")), "stall");
  const pings = (from: number, to = Infinity) => notify.messages.filter((m) => m.text === "WATCHDOG=1" && m.at >= from && m.at < to).length;

  before(async () => {
    broker = await startMosquitto();
    plc = await startPlc(broker.url, "linewatch/sup/#");
    notify = await startNotifyListener();
    daemon = startDaemon(
      {
        device_id: "sup",
        log_level: "debug",
        cameras: [{ id: "cam", kind: "test", width: 96, height: 64, fps: 5 }],
        mqtt: { url: broker.url, thumbnail: { enabled: false } },
        health: { port: await freePort() },
        model: { providers: [{ kind: "cpu" }], threads: 1 },
        pipeline: { max_pending_frames: 4 },
      },
      // The stall file makes inference wait while it exists (debug only, see src/debugStall.ts).
      { NOTIFY_SOCKET: notify.path, WATCHDOG_USEC: String(WATCHDOG_USEC), LINEWATCH_DEBUG_STALL_FILE: stall },
    );
  });

  after(async () => {
    rmSync(stall, { force: true });
    daemon?.proc.kill("SIGKILL");
    notify?.stop();
    plc?.end();
    await broker?.stop();
  });

  it("sends READY=1 only after the model is warm and the broker connected", async () => {
    const ready = await notify.waitFor("READY=1", 90_000);
    const at = (msg: string) => Date.parse(String(daemon.logs.find((l) => l.msg === msg)?.time));
    assert.ok(at("model loaded") <= ready.at, "READY before the model was warm");
    assert.ok(at("connected to the MQTT broker") <= ready.at, "READY before the broker connection");
    assert.match(ready.text, /STATUS=inspecting 1 camera/);
  });

  it("pings WATCHDOG=1 every WATCHDOG_USEC/2 while the pipeline progresses", async () => {
    const t0 = Date.now();
    await sleep(7000);
    assert.ok(pings(t0) >= 2, `only ${pings(t0)} pings in 7 s`);
  });

  it("stops the pings while inference is stuck, and resumes them when it moves again", async () => {
    writeFileSync(stall, "");
    const stalled = Date.now();
    await daemon.waitForLog((l) => /made no progress/.test(String(l.msg)), 15_000);
    // Pings stop at most one interval plus the progress window after the stall began.
    const quietFrom = stalled + WATCHDOG_USEC / 1000;
    await sleep(Math.max(0, quietFrom + 6000 - Date.now()));
    assert.equal(pings(quietFrom), 0, `pings went on while stuck: ${JSON.stringify(notify.messages.slice(-6))}`);
    rmSync(stall);
    const resumed = Date.now();
    await notify.waitFor("WATCHDOG=1", WATCHDOG_USEC / 1000 + 2000, resumed);
    assert.ok(daemon.logs.some((l) => /watchdog pings resumed/.test(String(l.msg))));
  });

  it("SIGTERM: stops capture, decides and publishes the frames in flight, publishes offline, exits 0 well within TimeoutStopSec", async () => {
    // Frames pile up in flight behind a stuck model; SIGTERM comes; the model moves again 1 s later.
    writeFileSync(stall, "");
    await sleep(1500);
    const decidedBefore = daemon.logs.filter((l) => l.msg === "decided").length;
    const t0 = performance.now();
    daemon.proc.kill("SIGTERM");
    const stopping = await notify.waitFor("STOPPING=1", 5000, Date.now() - 100);
    setTimeout(() => rmSync(stall, { force: true }), 1000);
    const exit = await exitWithin(daemon, 25_000);
    const ms = performance.now() - t0;
    process.stdout.write(`# SIGTERM to exit with 1 s of stuck inference in it: ${Math.round(ms)} ms (STOPPING=1 after ${Math.round(stopping.at - Date.now() + ms)} ms)\n`);
    assert.equal(exit.code, 0, daemon.stderr());
    assert.ok(ms < (TIMEOUT_STOP_S * 1000) / 2, `shutdown took ${ms} ms`);
    const decided = daemon.logs.filter((l) => l.msg === "decided").map((l) => l.frame_id as string);
    assert.ok(decided.length > decidedBefore, "nothing in flight was decided during the stop");
    await plc.until(() => plc.json("/status").some((s) => s.state === "offline"), 3000, "the offline status");
    const got = plc.got.filter((m) => m.topic.endsWith("/cam/result")).map((m) => JSON.parse(m.payload.toString()).frame_id as string);
    assert.deepEqual(decided.filter((id) => !got.includes(id)), [], "decided but never published");
    const offlineAt = plc.got.findIndex((m) => m.topic.endsWith("/status") && JSON.parse(m.payload.toString()).state === "offline");
    assert.ok(plc.got.slice(offlineAt).every((m) => !m.topic.endsWith("/result")), "a result came after the offline status");
    assert.ok(daemon.logs.some((l) => l.msg === "linewatch stopped"));
  });
});
