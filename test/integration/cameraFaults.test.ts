import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import sharp from "sharp";
import { startDaemon, type RunningDaemon } from "../helpers/daemon.js";
import { freePort, startMosquitto, type RunningMosquitto } from "../helpers/mosquitto.js";
import { healthz, metric, metricsText, sleep, startPlc, type Plc } from "../helpers/plc.js";
import { startRtspServer, type RunningRtspServer } from "../helpers/rtspServer.js";

interface Result {
  camera: string;
  seq: number;
  captured_at: string;
}
interface Status {
  state: string;
  cameras: { id: string; state: string }[];
}

/** A grey JPEG of this size: the ROI at x=300 fits a 600 px wide one and lies outside a 115 px wide one. */
const jpeg = (width: number, height: number, file: string) => sharp({ create: { width, height, channels: 3, background: { r: 120, g: 120, b: 120 } } }).jpeg().toFile(file);

describe("camera faults, with the daemon on real parts", { timeout: 240_000 }, () => {
  let broker: RunningMosquitto;
  let rtsp: RunningRtspServer;
  let rtspPort: number;
  let daemon: RunningDaemon;
  let plc: Plc;
  let port: number;
  const results = (cam: string) => plc.json<Result>(`/${cam}/result`).filter((r) => r.camera === cam);
  const lastStatus = () => plc.json<Status>("/status").at(-1);
  const camState = (id: string) => lastStatus()?.cameras.find((c) => c.id === id)?.state;

  before(async () => {
    broker = await startMosquitto();
    rtspPort = await freePort();
    rtsp = await startRtspServer(rtspPort, "160x120", 10);
    plc = await startPlc(broker.url, "linewatch/faults/#");
    port = await freePort();
    const images = join(broker.dir, "mixed");
    mkdirSync(images);
    await jpeg(600, 260, join(images, "a.jpg"));
    await jpeg(115, 287, join(images, "b.jpg"));
    const clip = join(broker.dir, "clip.mkv");
    execFileSync("gst-launch-1.0", ["-q", "videotestsrc", "num-buffers=12", "!", "video/x-raw,width=96,height=64,framerate=10/1", "!", "x264enc", "speed-preset=ultrafast", "!", "matroskamux", "!", "filesink", `location=${clip}`]);
    daemon = startDaemon({
      device_id: "faults",
      cameras: [
        { id: "line_rtsp", kind: "rtsp", url: rtsp.url, fps: 5, latency_ms: 50, stale_after_ms: 2000, reconnect_initial_ms: 200, reconnect_max_s: 1 },
        { id: "steady", kind: "test", width: 96, height: 64, fps: 4 },
        { id: "no_device", kind: "v4l2", device: "/dev/video-linewatch-missing", reconnect_max_s: 1 },
        { id: "mixed", kind: "images", path: images, fps: 4, roi: { x: 300, y: 0, width: 100, height: 100 } },
        { id: "clip_once", kind: "file", path: clip, loop: false },
        { id: "raw_i420", kind: "pipeline", description: "videotestsrc is-live=true ! video/x-raw,format=I420,width=64,height=48,framerate=5/1 ! appsink name=sink sync=false", reconnect_max_s: 1 },
      ],
      mqtt: { url: broker.url, thumbnail: { enabled: false } },
      health: { port },
      model: { providers: [{ kind: "cpu" }], threads: 1 },
      pipeline: { max_pending_frames: 4 },
    });
    await daemon.waitForLog((l) => l.msg === "linewatch is running", 90_000);
    await plc.until(() => results("line_rtsp").length >= 3 && results("steady").length >= 3, 30_000, "results from both live cameras");
  });

  after(async () => {
    if (process.env.LW_TEST_DUMP) writeFileSync(process.env.LW_TEST_DUMP, daemon.logs.map((l) => JSON.stringify(l)).join("\n") + "\n" + daemon.stderr());
    daemon?.proc.kill("SIGKILL");
    await rtsp?.kill();
    plc?.end();
    await broker?.stop();
  });

  it("reports a killed RTSP server on /healthz, /metrics and the retained status within 3 s, while the other camera runs on", async () => {
    assert.equal(camState("line_rtsp"), "up");
    const steadyBefore = results("steady").length;
    const killedAt = Date.now();
    await rtsp.kill("SIGKILL");
    const seen: Record<string, number> = {};
    while (Object.keys(seen).length < 3 && Date.now() - killedAt < 6000) {
      const h = await healthz(port);
      if (!seen.healthz && h.status === 503 && h.body.reasons?.some((r) => r.startsWith("camera line_rtsp "))) seen.healthz = Date.now() - killedAt;
      if (!seen.metrics && metric(await metricsText(port), 'linewatch_camera_up{camera="line_rtsp"}') === 0) seen.metrics = Date.now() - killedAt;
      if (!seen.status && camState("line_rtsp") === "down") seen.status = Date.now() - killedAt;
      await sleep(100);
    }
    daemon.logs.push({ msg: "test: dead camera detected", ...seen });
    process.stdout.write(`# dead RTSP camera detected after (ms): ${JSON.stringify(seen)}\n`);
    for (const k of ["healthz", "metrics", "status"]) assert.ok(seen[k] !== undefined && seen[k] <= 3000, `${k} did not report the camera down within 3 s: ${JSON.stringify(seen)}`);
    // The other camera never stalls: results keep coming at its rate (4 fps) during the outage.
    await sleep(3000);
    const steady = results("steady");
    assert.ok(steady.length - steadyBefore >= 8, `only ${steady.length - steadyBefore} results from the steady camera in ~6 s`);
    assert.deepEqual(steady.map((r) => r.seq), steady.map((_, i) => i), "steady camera lost frames");
  });

  it("reconnects with capped backoff: frames flow again within 5 s of the server's return", async () => {
    rtsp = await startRtspServer(rtspPort, "160x120", 10);
    const back = Date.now();
    const before = results("line_rtsp").length;
    await plc.until(() => results("line_rtsp").length > before, 10_000, "a result from the RTSP camera after the server's return");
    const resumedMs = plc.got.find((m) => m.topic.endsWith("/line_rtsp/result") && m.at >= back)!.at - back;
    process.stdout.write(`# RTSP camera resumed ${resumedMs} ms after the server's return\n`);
    assert.ok(resumedMs <= 5000, `frames resumed after ${resumedMs} ms`);
    await plc.until(() => camState("line_rtsp") === "up", 3000, "status up again");
    const m = await metricsText(port);
    assert.ok(metric(m, 'linewatch_camera_restarts_total{camera="line_rtsp"}') >= 1);
    assert.equal(metric(m, 'linewatch_camera_up{camera="line_rtsp"}'), 1);
  });

  it("a device missing at start is down, retried, reported with its path; never a crash", async () => {
    const m = await metricsText(port);
    assert.equal(metric(m, 'linewatch_camera_up{camera="no_device"}'), 0);
    assert.ok(metric(m, 'linewatch_camera_errors_total{camera="no_device"}') >= 2, "not retried");
    // Each retry publishes "starting" before it fails again: wait for the "down" between retries.
    await plc.until(() => camState("no_device") === "down", 5000, "no_device reported down between retries");
    assert.ok(daemon.logs.some((l) => l.camera === "no_device" && /video-linewatch-missing/.test(JSON.stringify(l))), "no log line names the device");
    assert.equal(daemon.proc.exitCode, null);
  });

  it("a source whose frame size changes: frames the ROI fits are decided, the others skipped and counted", async () => {
    await plc.until(() => results("mixed").length >= 2, 10_000, "results of the wide image");
    const m = await metricsText(port);
    assert.ok(metric(m, 'linewatch_frames_bad_total{camera="mixed"}') >= 2, m.split("\n").filter((l) => l.includes("mixed")).join("\n"));
    for (const r of plc.json<Result & { roi: { x: number } }>("/mixed/result")) assert.equal(r.roi.x, 300);
    assert.ok(daemon.logs.some((l) => l.camera === "mixed" && l.msg === "frame skipped"));
  });

  it("a file that ends without loop: every frame decided, then reported ended (down), the rest runs on", async () => {
    await plc.until(() => results("clip_once").length >= 12, 20_000, "all 12 frames of the clip");
    assert.deepEqual(results("clip_once").map((r) => r.seq), [...Array(12).keys()]);
    await plc.until(() => camState("clip_once") === "down", 5000, "the ended file reported down");
    const h = await healthz(port);
    const cam = (h.body.cameras as { id: string; state: string }[]).find((c) => c.id === "clip_once");
    assert.equal(cam?.state, "ended");
    assert.ok(daemon.logs.some((l) => l.camera === "clip_once" && /ended/.test(String(l.msg))));
  });

  it("samples of a format capture cannot pack are skipped and counted, never decided", async () => {
    const m = await metricsText(port);
    assert.ok(metric(m, 'linewatch_frames_bad_total{camera="raw_i420"}') >= 1, m.split("\n").filter((l) => l.includes("raw_i420")).join("\n"));
    assert.equal(results("raw_i420").length, 0);
    assert.equal(daemon.proc.exitCode, null, "the daemon died");
  });
});
