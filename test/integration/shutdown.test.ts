import assert from "node:assert/strict";
import { resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { exitWithin, startDaemon } from "../helpers/daemon.js";
import { freePort, startMosquitto, type RunningMosquitto } from "../helpers/mosquitto.js";
import { sleep } from "../helpers/plc.js";

/**
 * SIGTERM must end the process every time, not most times. A GStreamer bus poller left waiting on a
 * stopped pipeline holds a libuv pool thread, and process exit joins every pool thread: the daemon
 * logged "linewatch stopped" and hung in about one stop in five (measured here) until
 * scripts/patchGstreamer.mjs gave the binding's poller a finite wait. Several cycles, stopped at
 * different moments, catch a regression (e.g. an install that skipped the patch).
 */
describe("SIGTERM exits 0, every time", { timeout: 240_000 }, () => {
  const CYCLES = 6;
  let broker: RunningMosquitto;
  const times: number[] = [];

  before(async () => {
    broker = await startMosquitto();
  });
  after(async () => {
    await broker?.stop();
  });

  it(`${CYCLES} start/stop cycles with a live, a paced and a looping camera`, async () => {
    for (let i = 0; i < CYCLES; i++) {
      const d = startDaemon({
        device_id: "cycle",
        cameras: [
          { id: "live", kind: "test", width: 96, height: 64, fps: 5 },
          { id: "parts", kind: "images", path: resolve("demo/images"), fps: 4 },
          { id: "absent", kind: "v4l2", device: "/dev/video-linewatch-absent" },
        ],
        mqtt: { url: broker.url, thumbnail: { enabled: false } },
        health: { port: await freePort() },
        model: { providers: [{ kind: "cpu" }], threads: 1 },
      });
      try {
        await d.waitForLog((l) => l.msg === "linewatch is running", 60_000);
        await sleep(300 + (i % 3) * 700);
        const t0 = performance.now();
        d.proc.kill("SIGTERM");
        const exit = await exitWithin(d, 15_000);
        times.push(performance.now() - t0);
        assert.equal(exit.code, 0, `cycle ${i}: ${JSON.stringify(exit)} ${d.stderr()}`);
      } finally {
        d.proc.kill("SIGKILL");
      }
    }
    process.stdout.write(`# SIGTERM to exit over ${CYCLES} cycles: ${times.map((t) => Math.round(t)).join(", ")} ms\n`);
    // linewatch stops under a 20 s deadline; the unit's TimeoutStopSec is 30 s.
    assert.ok(Math.max(...times) < 10_000);
  });
});
