import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { mqttSchema } from "../../src/config/mqtt.js";
import { CredentialError, readMqttPassword, redactUrl } from "../../src/publish/credentials.js";
import { MqttConnectError, MqttPublisher } from "../../src/publish/mqttPublisher.js";
import { startMosquitto, type RunningMosquitto } from "../helpers/mosquitto.js";
import { makeTestPki, type TestPki } from "../helpers/testPki.js";
import { EmbeddedBroker } from "../../src/publish/embeddedBroker.js";
import type { ResultPayload } from "../../src/publish/topics.js";
import { captureLogger, makeDecision } from "./fixtures.js";
import { subscribe } from "./subscriber.js";

describe("MQTT credentials", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "lw-secrets-"));
    writeFileSync(join(dir, "pw"), "from-file\n");
    writeFileSync(join(dir, "mqtt"), "from-credential");
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("reads a password from an env var, a file path, or a systemd credential name", () => {
    assert.equal(readMqttPassword({}, {}), undefined);
    assert.equal(readMqttPassword({ password_env: "PW" }, { PW: "from-env" }), "from-env");
    assert.equal(readMqttPassword({ password_file: join(dir, "pw") }, {}), "from-file");
    assert.equal(readMqttPassword({ password_file: "mqtt" }, { CREDENTIALS_DIRECTORY: dir }), "from-credential");
  });

  it("says what is missing, never the secret", () => {
    assert.throws(() => readMqttPassword({ password_env: "PW" }, {}), (e: unknown) => e instanceof CredentialError && e.source === "env:PW" && /PW.*not set/.test(e.message));
    assert.throws(() => readMqttPassword({ password_file: join(dir, "nope") }, {}), /ENOENT/);
    assert.throws(() => readMqttPassword({ password_file: "mqtt" }, {}), /CREDENTIALS_DIRECTORY is not set/);
    assert.throws(() => readMqttPassword({ password_file: "absent" }, { CREDENTIALS_DIRECTORY: dir }), /ENOENT/);
    assert.equal(redactUrl("mqtts://user:hunter2@broker:8883"), "mqtts://***@broker:8883");
    assert.equal(redactUrl("mqtt://broker:1883"), "mqtt://broker:1883");
  });

  it("blanks password fields handed to the logger by mistake", () => {
    const { log, text } = captureLogger();
    log.child({ mod: "mqtt" }).info({ password: "hunter2", options: { password: "hunter3", username: "u" } }, "oops");
    assert.doesNotMatch(text(), /hunter/);
    assert.match(text(), /"username":"u"/);
  });
});

describe("MQTT over TLS against a real mosquitto", () => {
  let pki: TestPki;
  let broker: RunningMosquitto;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "lw-pki-"));
    pki = makeTestPki(dir);
    broker = await startMosquitto({ config: [`cafile ${pki.ca}`, `certfile ${pki.server_cert}`, `keyfile ${pki.server_key}`] });
  });
  after(async () => {
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const publisher = (tls: Record<string, unknown>) =>
    new MqttPublisher({
      mqtt: mqttSchema.parse({ url: `mqtts://127.0.0.1:${broker.port}`, tls }),
      base_topic: "linewatch",
      identity: { device: "box", version: "0.1.0", model: { name: "m", version: "1" }, started_at: Date.now() },
      cameras: [],
      log: captureLogger().log,
      connect_wait_ms: 3000,
    });

  it("connects when the CA signed the broker's certificate", async () => {
    const pub = publisher({ ca: pki.ca });
    await pub.start();
    assert.equal(pub.stats().connected, true);
    await pub.stop();
  });

  it("refuses a broker its CA did not sign, and says so at start", async () => {
    const pub = publisher({ ca: pki.other_ca });
    await assert.rejects(pub.start(), (e: unknown) => e instanceof MqttConnectError && typeof e.code === "string" && /certificate|verify/i.test(e.message));
    await pub.stop();
  });

  it("reports an unreadable CA file with its path", async () => {
    await assert.rejects(publisher({ ca: join(dir, "missing.crt") }).start(), /mqtt\.tls\.ca .*missing\.crt: ENOENT/);
  });
});

describe("MQTT 5 refusals and 3.1.1 brokers", () => {
  const identity = { device: "line1", version: "0.1.0", model: { name: "m", version: "1" }, started_at: Date.now() };

  it("counts and drops results the broker's ACL refuses, without holding up the others", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lw-acl-"));
    const pw = join(dir, "passwd");
    const acl = join(dir, "acl");
    writeFileSync(pw, "");
    execFileSync("mosquitto_passwd", ["-b", pw, "linewatch", "pw1"]);
    execFileSync("mosquitto_passwd", ["-b", pw, "plc", "pw2"]);
    writeFileSync(acl, "user linewatch\ntopic write linewatch/line1/status\ntopic write linewatch/line1/cam_a/#\nuser plc\ntopic read linewatch/#\n");
    for (const f of [pw, acl]) chmodSync(f, 0o644);
    const b = await startMosquitto({ config: [`password_file ${pw}`, `acl_file ${acl}`, "allow_anonymous false"] });
    const cap = captureLogger();
    const pub = new MqttPublisher({ mqtt: mqttSchema.parse({ url: b.url, username: "linewatch", password_env: "PW" }), env: { PW: "pw1" }, base_topic: "linewatch", identity, cameras: [], log: cap.log });
    const sub = await subscribe(b.url.replace("mqtt://", "mqtt://plc:pw2@"), "linewatch/#");
    try {
      await pub.start();
      pub.publishResult(makeDecision("cam_b", 0));
      pub.publishResult(makeDecision("cam_a", 0));
      pub.publishResult(makeDecision("cam_b", 1));
      pub.publishResult(makeDecision("cam_a", 1));
      await sub.waitFor((m) => m.topic === "linewatch/line1/cam_a/result" && (JSON.parse(m.payload.toString()) as ResultPayload).seq === 1);
      for (let i = 0; i < 50 && pub.stats().refused < 2; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(pub.stats().refused, 2);
      assert.equal(pub.stats().spool_depth, 0);
      assert.ok(!sub.messages.some((m) => m.topic.includes("cam_b")));
      assert.match(cap.text(), /the broker refused a result/);
    } finally {
      await sub.close();
      await pub.stop();
      await b.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("falls back to MQTT 3.1.1 for a broker that speaks nothing else", async () => {
    const { log, text } = captureLogger();
    const aedes = new EmbeddedBroker({ host: "127.0.0.1", port: 0, log });
    await aedes.start();
    // mqtt.url names the broker like any external one, so MQTT 5 is tried first.
    const pub = new MqttPublisher({ mqtt: mqttSchema.parse({ url: aedes.url }), base_topic: "linewatch", identity, cameras: [], log, connect_wait_ms: 5000 });
    try {
      await pub.start();
      assert.equal(pub.stats().connected, true);
      assert.equal(pub.client?.options.protocolVersion, 4);
      assert.match(text(), /speaks MQTT 3\.1\.1 only/);
    } finally {
      await pub.stop();
      await aedes.stop();
    }
  });
});
