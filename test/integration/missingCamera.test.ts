import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connect, type MqttClient } from "mqtt";
import { freePort, startMosquitto, type RunningMosquitto } from "../helpers/mosquitto.js";
import { startDaemon, type RunningDaemon } from "../helpers/daemon.js";

describe("a camera whose source is missing", { timeout: 120_000 }, () => {
  let broker: RunningMosquitto;
  let daemon: RunningDaemon;
  let sub: MqttClient;
  let healthPort: number;
  const results: { camera: string; seq: number }[] = [];
  const statuses: { cameras: { id: string; state: string }[] }[] = [];

  before(async () => {
    broker = await startMosquitto();
    sub = connect(broker.url, { clientId: "plc" });
    sub.on("message", (topic, payload) => {
      if (topic.endsWith("/result")) results.push(JSON.parse(payload.toString()));
      if (topic.endsWith("/status")) statuses.push(JSON.parse(payload.toString()));
    });
    await new Promise<void>((r) => sub.on("connect", () => sub.subscribe("linewatch/miss/#", { qos: 1 }, () => r())));
    healthPort = await freePort();
    daemon = startDaemon({
      device_id: "miss",
      cameras: [
        { id: "gone", kind: "images", path: "/nonexistent/linewatch-images", fps: 2 },
        { id: "alive", kind: "test", width: 160, height: 120, fps: 4 },
      ],
      mqtt: { url: broker.url, thumbnail: { enabled: false } },
      health: { port: healthPort },
      model: { providers: [{ kind: "cpu" }], threads: 1 },
    });
    await daemon.waitForLog((l) => l.msg === "linewatch is running", 60_000);
    const until = Date.now() + 30_000;
    while (results.filter((r) => r.camera === "alive").length < 6 && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
  });

  after(async () => {
    daemon?.proc.kill("SIGTERM");
    await daemon?.exited;
    sub?.end(true);
    await broker?.stop();
  });

  it("does not stop the other camera", () => {
    const alive = results.filter((r) => r.camera === "alive");
    assert.ok(alive.length >= 6, `only ${alive.length} results from the working camera`);
    assert.deepEqual(alive.map((r) => r.seq), alive.map((_, i) => i));
    assert.equal(results.filter((r) => r.camera === "gone").length, 0);
  });

  it("reports it down on /healthz (503 with the reason), /metrics and the retained status", async () => {
    const res = await fetch(`http://127.0.0.1:${healthPort}/healthz`);
    const body = (await res.json()) as { status: string; reasons: string[] };
    assert.equal(res.status, 503);
    assert.equal(body.status, "unhealthy");
    assert.equal(body.reasons.length, 1, JSON.stringify(body.reasons));
    assert.match(body.reasons[0], /^camera gone /);
    const metrics = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
    assert.match(metrics, /^linewatch_camera_up\{camera="gone"\} 0$/m);
    assert.match(metrics, /^linewatch_camera_up\{camera="alive"\} 1$/m);
    const last = statuses.at(-1);
    assert.ok(last, "no status");
    assert.equal(last.cameras.find((c) => c.id === "gone")?.state, "down");
    assert.equal(last.cameras.find((c) => c.id === "alive")?.state, "up");
  });

  it("logs the missing source as an error that names it", () => {
    assert.ok(daemon.logs.some((l) => l.camera === "gone" && (l.level as number) >= 40 && /nonexistent/.test(JSON.stringify(l))), "no log line names the missing folder");
  });
});
