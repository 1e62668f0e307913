import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { mqttSchema } from "../../src/config/mqtt.js";
import { CredentialError, readMqttPassword, redactUrl } from "../../src/publish/credentials.js";
import { MqttConnectError, MqttPublisher } from "../../src/publish/mqttPublisher.js";
import { startMosquitto, type RunningMosquitto } from "../helpers/mosquitto.js";
import { makeTestPki, type TestPki } from "../helpers/testPki.js";
import { captureLogger } from "./fixtures.js";

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
