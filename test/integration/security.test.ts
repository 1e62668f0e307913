import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { exitWithin, startDaemon, type RunningDaemon } from "../helpers/daemon.js";
import { freePort, startMosquitto, type RunningMosquitto } from "../helpers/mosquitto.js";
import { healthz, metric, metricsText, startPlc, type Plc } from "../helpers/plc.js";
import { makeTestPki, type TestPki } from "../helpers/testPki.js";

const PASSWORD = "S3cret-line-password-7f1c";
const PLC_PASSWORD = "plc-password-91aa";

describe("MQTT over TLS with a password file and an ACL, at daemon level", { timeout: 240_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "lw-sec-"));
  let pki: TestPki;
  let broker: RunningMosquitto;
  let plc: Plc;
  let url: string;
  const daemons: RunningDaemon[] = [];

  /** A daemon on this broker: mqtt settings merged over TLS with the CA and client certificate. */
  const daemon = async (mqtt: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) => {
    const d = startDaemon(
      {
        device_id: "sec",
        cameras: [
          { id: "allowed", kind: "test", width: 96, height: 64, fps: 4 },
          { id: "forbidden", kind: "test", width: 96, height: 64, fps: 4 },
        ],
        mqtt: { url, username: "linewatch", tls: { ca: pki.ca, cert: pki.client_cert, key: pki.client_key }, thumbnail: { enabled: false }, ...mqtt },
        health: { port: await freePort() },
        model: { providers: [{ kind: "cpu" }], threads: 1 },
      },
      env,
    );
    daemons.push(d);
    return d;
  };
  const output = (d: RunningDaemon) => d.logs.map((l) => JSON.stringify(l)).join("\n") + d.stderr();

  before(async () => {
    pki = makeTestPki(dir);
    const passwd = join(dir, "passwd");
    execFileSync("mosquitto_passwd", ["-c", "-b", passwd, "linewatch", PASSWORD]);
    execFileSync("mosquitto_passwd", ["-b", passwd, "plc", PLC_PASSWORD]);
    const acl = join(dir, "acl");
    // The box may write its status, the results of camera 'allowed' and command answers, and read commands; nothing else.
    writeFileSync(acl, ["user linewatch", "topic write linewatch/sec/status", "topic write linewatch/sec/allowed/result", "topic write linewatch/sec/+/+/state", "topic read linewatch/sec/+/+/set", "", "user plc", "topic read linewatch/#", ""].join("\n"));
    broker = await startMosquitto({
      config: ["allow_anonymous false", `password_file ${passwd}`, `acl_file ${acl}`, `cafile ${pki.ca}`, `certfile ${pki.server_cert}`, `keyfile ${pki.server_key}`, "require_certificate true"],
    });
    url = `mqtts://127.0.0.1:${broker.port}`;
    plc = await startPlc(url, "linewatch/sec/#", { username: "plc", password: PLC_PASSWORD, ca: readFileSync(pki.ca), cert: readFileSync(pki.client_cert), key: readFileSync(pki.client_key) });
  });

  after(async () => {
    for (const d of daemons) d.proc.kill("SIGKILL");
    plc?.end();
    await broker?.stop();
  });

  it("connects with the CA, a client certificate and a password from $CREDENTIALS_DIRECTORY; the ACL's refusals are counted, the rest flows", async () => {
    const creds = join(dir, "credentials");
    mkdirSync(creds);
    writeFileSync(join(creds, "mqtt-password"), PASSWORD + "\n", { mode: 0o600 });
    const d = await daemon({ password_file: "mqtt-password" }, { CREDENTIALS_DIRECTORY: creds });
    await d.waitForLog((l) => l.msg === "linewatch is running", 90_000);
    await plc.until(() => plc.json("/allowed/result").length >= 4, 20_000, "results of the allowed camera");
    const port = Number(d.logs.find((l) => l.msg === "health server listening")?.port);
    let m = "";
    for (const end = Date.now() + 15_000; Date.now() < end; await new Promise((r) => setTimeout(r, 300))) {
      m = await metricsText(port);
      if (metric(m, "linewatch_mqtt_refused_total") >= 2) break;
    }
    assert.ok(metric(m, "linewatch_mqtt_refused_total") >= 2, "the ACL's refusals were not counted");
    assert.equal(plc.json("/forbidden/result").length, 0);
    assert.equal(metric(m, "linewatch_mqtt_connected"), 1);
    assert.ok(plc.json<{ state: string }>("/status").some((s) => s.state === "online"));
    assert.ok(d.logs.some((l) => l.msg === "the broker refused a result (ACL?); dropped"));
    // The health server binds the loopback address unless configured otherwise.
    assert.equal(d.logs.find((l) => l.msg === "health server listening")?.bind, "127.0.0.1");
    const h = await healthz(port);
    for (const text of [output(d), m, JSON.stringify(h.body)]) assert.ok(!text.includes(PASSWORD), "the password leaked");
    d.proc.kill("SIGTERM");
    assert.equal((await exitWithin(d, 25_000)).code, 0);
    assert.ok(!output(d).includes(PASSWORD), "the password leaked at shutdown");
  });

  it("a wrong password (from an env var): exits 1 at start with a clear message, never printing it", async () => {
    const wrong = "not-the-password-3b7d";
    const d = await daemon({ password_env: "LW_TEST_MQTT_PASSWORD" }, { LW_TEST_MQTT_PASSWORD: wrong });
    const exit = await exitWithin(d, 60_000);
    assert.equal(exit.code, 1);
    assert.match(d.stderr(), /refused the connection: .*(Bad user name or password|Not authorized)/i);
    assert.ok(!output(d).includes(wrong));
  });

  it("a broker certificate that the configured CA did not sign: exits 1 naming the certificate problem", async () => {
    const d = await daemon({ password_env: "LW_TEST_MQTT_PASSWORD", tls: { ca: pki.other_ca, cert: pki.client_cert, key: pki.client_key } }, { LW_TEST_MQTT_PASSWORD: PASSWORD });
    const exit = await exitWithin(d, 60_000);
    assert.equal(exit.code, 1);
    assert.match(d.stderr(), /refused the connection: .*(certificate|verify)/i);
    assert.ok(!output(d).includes(PASSWORD));
  });

  it("a missing password file: exits 2 before loading the model, saying which file", async () => {
    const d = await daemon({ password_file: join(dir, "no-such-password") });
    const exit = await exitWithin(d, 60_000);
    assert.equal(exit.code, 2);
    assert.match(d.stderr(), /mqtt\.password_file: cannot read the MQTT password file .*no-such-password: ENOENT/);
  });
});
