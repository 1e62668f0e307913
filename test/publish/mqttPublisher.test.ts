import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { mqttSchema } from "../../src/config/mqtt.js";
import { MqttConnectError, MqttPublisher } from "../../src/publish/mqttPublisher.js";
import type { CameraStatus, PublisherIdentity, ResultPayload, StatusPayload } from "../../src/publish/topics.js";
import { startMosquitto, type RunningMosquitto } from "../helpers/mosquitto.js";
import { captureLogger, makeDecision, schemaValidator } from "./fixtures.js";
import { subscribe } from "./subscriber.js";

const identity: PublisherIdentity = { device: "line1", version: "0.1.0", model: { name: "magtile-student", version: "1" }, started_at: Date.now() };
const cameras: CameraStatus[] = [
  { id: "cam_a", kind: "images", state: "up" },
  { id: "cam_b", kind: "test", state: "starting" },
];
const validResult = schemaValidator("result");
const validStatus = schemaValidator("status");
const json = <T>(b: Buffer) => JSON.parse(b.toString()) as T;

function publisher(url: string, extra: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = {}, log = captureLogger().log): MqttPublisher {
  return new MqttPublisher({ mqtt: mqttSchema.parse({ url, keepalive_s: 1, ...extra }), base_topic: "linewatch", identity, cameras, log, env, connect_wait_ms: 3000, stop_timeout_ms: 1000 });
}

describe("MqttPublisher against a real mosquitto", () => {
  let broker: RunningMosquitto;
  before(async () => (broker = await startMosquitto()));
  after(async () => broker.stop());

  it("publishes schema-valid results and a retained online status that a late subscriber gets", async () => {
    const pub = publisher(broker.url);
    await pub.start();
    const sub = await subscribe(broker.url, "linewatch/line1/#");
    try {
      pub.publishResult(makeDecision("cam_a", 0));
      pub.publishResult(makeDecision("cam_a", 1, { fail: true }));
      const r1 = await sub.waitFor((m) => m.topic === "linewatch/line1/cam_a/result" && json<ResultPayload>(m.payload).seq === 1);
      const results = sub.messages.filter((m) => m.topic.endsWith("/result")).map((m) => json<ResultPayload>(m.payload));
      assert.deepEqual(results.map((r) => r.seq), [0, 1]);
      for (const r of results) assert.ok(validResult(r), JSON.stringify(validResult.errors));
      const fail = json<ResultPayload>(r1.payload);
      assert.equal(fail.verdict, "fail");
      assert.equal(fail.regions.length, 1);
      assert.equal(fail.latency_ms, 40.1235);
      assert.equal(r1.qos, 1);
      const status = await sub.waitFor((m) => m.topic === "linewatch/line1/status");
      assert.equal(status.retain, true, "a late subscriber gets the status as retained");
      const s = json<StatusPayload>(status.payload);
      assert.ok(validStatus(s), JSON.stringify(validStatus.errors));
      assert.equal(s.state, "online");
      assert.deepEqual(s.cameras, cameras);
      // Counted on the PUBACK, which may come just after the subscriber's copy.
      for (let i = 0; i < 50 && pub.stats().published < 2; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(pub.stats().published, 2);
      assert.equal(pub.stats().connected, true);
    } finally {
      await sub.close();
      await pub.stop();
    }
  });

  it("the last will turns the status offline when the socket dies, and reconnects online", async () => {
    const pub = publisher(broker.url);
    await pub.start();
    const sub = await subscribe(broker.url, "linewatch/line1/status");
    try {
      await sub.waitFor((m) => json<StatusPayload>(m.payload).state === "online");
      const from = sub.messages.length;
      pub.client!.stream.destroy(); // a crash as the broker sees it: no DISCONNECT
      const will = await sub.waitFor((m) => json<StatusPayload>(m.payload).state === "offline", 5000, from);
      const s = json<StatusPayload>(will.payload);
      assert.ok(validStatus(s), JSON.stringify(validStatus.errors));
      assert.ok(s.cameras.every((c) => c.state === "stopped"));
      await sub.waitFor((m) => json<StatusPayload>(m.payload).state === "online", 5000, from + 1);
      assert.equal(pub.stats().reconnects, 1);
    } finally {
      await sub.close();
      await pub.stop();
    }
  });

  it("updateCameras() republishes the status only when a camera's state changes", async () => {
    const pub = publisher(broker.url);
    await pub.start();
    const sub = await subscribe(broker.url, "linewatch/line1/status");
    try {
      await sub.waitFor((m) => json<StatusPayload>(m.payload).state === "online");
      pub.updateCameras(cameras);
      pub.updateCameras(cameras);
      const down = cameras.map((c) => (c.id === "cam_b" ? { ...c, state: "down" as const } : c));
      pub.updateCameras(down);
      pub.updateCameras(down);
      const m = await sub.waitFor((x) => json<StatusPayload>(x.payload).cameras[1].state === "down");
      assert.ok(validStatus(json(m.payload)));
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(sub.messages.length, 2, "the first online status and one change");
    } finally {
      await sub.close();
      await pub.stop();
    }
  });

  it("stop() leaves a retained offline status and is safe twice", async () => {
    const pub = publisher(broker.url);
    await pub.start();
    pub.publishStatus([{ id: "cam_a", kind: "images", state: "down" }]);
    await Promise.all([pub.stop(), pub.stop()]);
    await pub.stop();
    const sub = await subscribe(broker.url, "linewatch/line1/status");
    try {
      const m = await sub.waitFor(() => true);
      assert.equal(m.retain, true);
      assert.equal(json<StatusPayload>(m.payload).state, "offline");
      assert.deepEqual(json<StatusPayload>(m.payload).cameras, [{ id: "cam_a", kind: "images", state: "stopped" }]);
    } finally {
      await sub.close();
    }
  });

  it("stop() sends the results decided before it, then the offline status", async () => {
    const pub = publisher(broker.url);
    await pub.start();
    const sub = await subscribe(broker.url, "linewatch/line1/#");
    try {
      await sub.waitFor((m) => m.topic.endsWith("/status"));
      const from = sub.messages.length;
      for (let seq = 0; seq < 40; seq++) pub.publishResult(makeDecision("cam_a", seq));
      await pub.stop();
      await sub.waitFor((m) => m.topic.endsWith("/status") && json<StatusPayload>(m.payload).state === "offline", 3000, from);
      const after = sub.messages.slice(from);
      assert.deepEqual(after.filter((m) => m.topic.endsWith("/result")).map((m) => json<ResultPayload>(m.payload).seq), [...Array(40).keys()]);
      assert.ok(after[after.length - 1].topic.endsWith("/status"), "offline comes last");
    } finally {
      await sub.close();
    }
  });

  it("stop() keeps its deadline when the broker hangs", async () => {
    const own = await startMosquitto();
    const pub = publisher(own.url, {}, {});
    await pub.start();
    try {
      own.proc.kill("SIGSTOP"); // alive but silent: no PUBACK ever comes
      pub.publishResult(makeDecision("cam_a", 0));
      const t0 = performance.now();
      await pub.stop(); // stop_timeout_ms is 1000 per step
      assert.ok(performance.now() - t0 < 4000, `stop took ${Math.round(performance.now() - t0)} ms`);
      assert.equal(pub.stats().connected, false);
      assert.equal(pub.stats().spool_depth, 1, "the unacknowledged result stays in the spool");
    } finally {
      own.proc.kill("SIGCONT");
      await own.stop();
    }
  });

  it("spools results while the broker is down and delivers them in order when it is back", async () => {
    const own = await startMosquitto();
    const pub = publisher(own.url);
    await pub.start();
    let back: RunningMosquitto | undefined;
    try {
      await own.stop();
      await new Promise((r) => setTimeout(r, 200));
      for (let seq = 0; seq < 5; seq++) pub.publishResult(makeDecision("cam_a", seq));
      pub.publishThumbnail("cam_a", Buffer.from([0xff, 0xd8]));
      assert.equal(pub.stats().spool_depth, 5);
      assert.equal(pub.stats().thumbnails_dropped, 1);
      // mqtt.js's own in-memory QoS 0 queue is off: nothing but the spool holds messages while away.
      assert.equal(pub.client?.options.queueQoSZero, false);
      assert.equal(pub.client?.queue.length, 0);
      back = await startMosquitto({ port: own.port });
      const sub = await subscribe(back.url, "linewatch/line1/+/result");
      await sub.waitFor((m) => json<ResultPayload>(m.payload).seq === 4, 8000);
      assert.deepEqual(sub.messages.map((m) => json<ResultPayload>(m.payload).seq), [0, 1, 2, 3, 4]);
      // The spool lets go of a batch on the PUBACKs, which may come just after the subscriber's copy.
      for (let i = 0; i < 50 && pub.stats().spool_depth > 0; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(pub.stats().spool_depth, 0);
      assert.equal(pub.stats().published, 5);
      await sub.close();
    } finally {
      await pub.stop();
      await back?.stop();
    }
  });

  it("authenticates with a password from $CREDENTIALS_DIRECTORY and never logs it", async () => {
    const secret = "s3cr3t-Pa55word-xyz";
    const dir = mkdtempSync(join(tmpdir(), "lw-cred-"));
    const pwfile = join(dir, "passwd");
    writeFileSync(pwfile, "");
    execFileSync("mosquitto_passwd", ["-b", pwfile, "linewatch", secret]);
    chmodSync(pwfile, 0o644);
    writeFileSync(join(dir, "mqtt_password"), secret + "\n");
    const b = await startMosquitto({ config: [`password_file ${pwfile}`, "allow_anonymous false"] });
    const cap = captureLogger();
    try {
      const pub = publisher(b.url, { username: "linewatch", password_file: "mqtt_password" }, { CREDENTIALS_DIRECTORY: dir }, cap.log);
      await pub.start();
      assert.equal(pub.stats().connected, true);
      pub.publishResult(makeDecision("cam_a", 0));
      await pub.stop();
      const bad = publisher(b.url, { username: "linewatch", password_env: "MQTT_PW" }, { MQTT_PW: "wrong-" + secret }, cap.log);
      await assert.rejects(bad.start(), (err: unknown) => err instanceof MqttConnectError && [134, 135].includes(err.code as number));
      await bad.stop();
      assert.match(cap.text(), /connected to the MQTT broker/);
      assert.match(cap.text(), /Not authorized/);
      assert.doesNotMatch(cap.text(), new RegExp(secret));
    } finally {
      await b.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
