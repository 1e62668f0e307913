import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { connectAsync } from "mqtt";
import { mqttSchema } from "../../src/config/mqtt.js";
import { EmbeddedBroker } from "../../src/publish/embeddedBroker.js";
import { MqttPublisher } from "../../src/publish/mqttPublisher.js";
import type { ResultPayload, StatusPayload } from "../../src/publish/topics.js";
import { captureLogger, makeDecision } from "./fixtures.js";
import { subscribe } from "./subscriber.js";

describe("EmbeddedBroker", () => {
  it("serves plain MQTT clients, retained status and results from the publisher", async () => {
    const { log } = captureLogger();
    const broker = new EmbeddedBroker({ host: "127.0.0.1", port: 0, log });
    await broker.start();
    assert.ok(broker.port > 0);
    const pub = new MqttPublisher({
      mqtt: mqttSchema.parse({ url: "embedded", embedded_port: broker.port }),
      base_topic: "linewatch",
      identity: { device: "box", version: "0.1.0", model: { name: "m", version: "1" }, started_at: Date.now() },
      cameras: [{ id: "cam", kind: "test", state: "up" }],
      log,
    });
    try {
      await pub.start();
      assert.equal(pub.url, broker.url);
      const sub = await subscribe(broker.url, "linewatch/#");
      const status = await sub.waitFor((m) => m.topic === "linewatch/box/status");
      assert.equal(status.retain, true);
      assert.equal((JSON.parse(status.payload.toString()) as StatusPayload).state, "online");
      pub.publishResult(makeDecision("cam", 7));
      const r = await sub.waitFor((m) => m.topic === "linewatch/box/cam/result");
      assert.equal((JSON.parse(r.payload.toString()) as ResultPayload).seq, 7);
      await sub.close();
    } finally {
      await pub.stop();
      await broker.stop();
      await broker.stop();
    }
    await assert.rejects(connectAsync(broker.url, { reconnectPeriod: 0, connectTimeout: 1000 }), "closed after stop()");
  });

  it("rejects start() when the port is taken", async () => {
    const { log } = captureLogger();
    const a = new EmbeddedBroker({ host: "127.0.0.1", port: 0, log });
    await a.start();
    const b = new EmbeddedBroker({ host: "127.0.0.1", port: a.port, log });
    await assert.rejects(b.start(), /EADDRINUSE/);
    await b.stop();
    await a.stop();
  });
});
