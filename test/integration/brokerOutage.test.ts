import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { exitWithin, startDaemon, type RunningDaemon } from "../helpers/daemon.js";
import { freePort, startMosquitto, type RunningMosquitto } from "../helpers/mosquitto.js";
import { metric, metricsText, sleep, startPlc, type Plc } from "../helpers/plc.js";

interface Result {
  frame_id: string;
  camera: string;
  seq: number;
}

const OUTAGE_MS = 30_000;
const CAMERAS = ["cam_a", "cam_b"];

/** The frame ids a daemon run decided, per camera in decision order, from its debug "decided" lines. */
function produced(d: RunningDaemon): Map<string, string[]> {
  const out = new Map<string, string[]>(CAMERAS.map((c) => [c, []]));
  for (const l of d.logs) if (l.msg === "decided") out.get(l.camera as string)!.push(l.frame_id as string);
  return out;
}

describe("a broker outage with a daemon restart and a daemon crash in the middle loses no result", { timeout: 240_000 }, () => {
  const state = mkdtempSync(join(tmpdir(), "lw-outage-"));
  const brokerDir = mkdtempSync(join(tmpdir(), "lw-outage-broker-"));
  // The subscriber's session (clean: false) survives the broker's restart, as a PLC gateway's would.
  const brokerConfig = ["persistence true", `persistence_location ${brokerDir}/`];
  let broker: RunningMosquitto;
  let plc: Plc;
  let first: RunningDaemon;
  let second: RunningDaemon;
  const runs: RunningDaemon[] = [];
  let healthPort: number;
  let outageMetrics = "";
  let firstStopMs = 0;

  const config = () => ({
    device_id: "outage",
    state_dir: state,
    log_level: "debug",
    cameras: CAMERAS.map((id, i) => ({ id, kind: "test", pattern: i ? "ball" : "smpte", width: 96, height: 64, fps: 5 })),
    mqtt: { url: broker.url, keepalive_s: 5, thumbnail: { width: 64, interval_ms: 200 } },
    health: { port: healthPort },
    model: { providers: [{ kind: "cpu" }], threads: 1 },
  });

  before(async () => {
    broker = await startMosquitto({ dir: brokerDir, config: brokerConfig });
    plc = await startPlc(broker.url, "linewatch/outage/+/result", { clientId: "plc-outage", clean: false });
    healthPort = await freePort();
    first = startDaemon(config());
    runs.push(first);
    await first.waitForLog((l) => l.msg === "linewatch is running", 90_000);
    await plc.until(() => CAMERAS.every((c) => plc.json<Result>(`/${c}/result`).length >= 5), 30_000, "results from both cameras");

    await broker.stop({ keepDir: true });
    const down = Date.now();
    await sleep(6000);
    // A clean restart during the outage: SIGTERM, then a new run on the same state directory.
    const t0 = performance.now();
    first.proc.kill("SIGTERM");
    const exit = await exitWithin(first, 25_000);
    firstStopMs = performance.now() - t0;
    assert.equal(exit.code, 0, `first run exit ${JSON.stringify(exit)}: ${first.stderr()}`);
    const crashed = startDaemon(config());
    runs.push(crashed);
    await crashed.waitForLog((l) => l.msg === "linewatch is running", 90_000);
    await plc.until(() => CAMERAS.every((c) => produced(crashed).get(c)!.length >= 5), 20_000, "decisions of the second run");
    // And a crash: SIGKILL, nothing flushed; what it decided is in the spool's files already.
    crashed.proc.kill("SIGKILL");
    await exitWithin(crashed, 5000);
    second = startDaemon(config());
    runs.push(second);
    await second.waitForLog((l) => l.msg === "linewatch is running", 90_000);
    await sleep(Math.max(0, OUTAGE_MS - (Date.now() - down) - 1000));
    outageMetrics = await metricsText(healthPort);
    await sleep(Math.max(0, OUTAGE_MS - (Date.now() - down)));
    broker = await startMosquitto({ port: broker.port, dir: brokerDir, config: brokerConfig });
    // Everything the runs decided so far must arrive; then the last run stops and flushes the rest.
    const want = () => CAMERAS.reduce((n, c) => n + runs.reduce((m, r) => m + produced(r).get(c)!.length, 0), 0);
    const have = () => new Set(plc.got.map((m) => (JSON.parse(m.payload.toString()) as Result).frame_id)).size;
    await plc.until(() => have() >= want(), 60_000, "every produced result");
    second.proc.kill("SIGTERM");
    await exitWithin(second, 25_000);
    await plc.until(() => have() >= want(), 10_000, "the results decided while stopping");
  });

  after(async () => {
    for (const d of runs) d.proc.kill("SIGKILL");
    plc?.end();
    await broker?.stop();
  });

  it("spooled while the broker was away: not connected, results waiting, thumbnails dropped and counted", () => {
    assert.equal(metric(outageMetrics, "linewatch_mqtt_connected"), 0);
    assert.ok(metric(outageMetrics, "linewatch_spool_depth") > 20, `spool depth ${metric(outageMetrics, "linewatch_spool_depth")}`);
    assert.ok(metric(outageMetrics, "linewatch_thumbnails_dropped_total") > 0);
    for (const r of runs.slice(1)) assert.ok(r.logs.some((l) => l.msg === "spool holds results from an earlier run"), "a run did not find the spool of the one before");
  });

  it("delivers every frame id the three runs produced, each at least once, in order per camera", () => {
    const received = plc.got.map((m) => JSON.parse(m.payload.toString()) as Result);
    let produced_total = 0;
    for (const cam of CAMERAS) {
      const want = runs.flatMap((r) => produced(r).get(cam)!);
      produced_total += want.length;
      const seen = new Set<string>();
      const order = received.filter((r) => r.camera === cam && !seen.has(r.frame_id) && seen.add(r.frame_id)).map((r) => r.frame_id);
      const missing = want.filter((id) => !seen.has(id));
      assert.deepEqual(missing, [], `${cam}: ${missing.length} of ${want.length} results never arrived`);
      assert.deepEqual(order, want, `${cam}: results out of order`);
    }
    const dup = received.length - new Set(received.map((r) => r.frame_id)).size;
    process.stdout.write(`# outage: ${produced_total} results produced over three runs, ${received.length} received (${dup} QoS 1 duplicates); first run stopped in ${Math.round(firstStopMs)} ms\n`);
    assert.ok(runs.every((r) => produced(r).get("cam_a")!.length > 0));
  });
});
