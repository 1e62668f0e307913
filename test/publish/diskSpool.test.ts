import assert from "node:assert/strict";
import { appendFileSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { mqttSchema } from "../../src/config/mqtt.js";
import { DiskSpool } from "../../src/publish/diskSpool.js";
import { MqttPublisher } from "../../src/publish/mqttPublisher.js";
import type { SpooledMessage } from "../../src/publish/resultSpool.js";
import type { ResultPayload } from "../../src/publish/topics.js";
import { startMosquitto } from "../helpers/mosquitto.js";
import { captureLogger, makeDecision } from "./fixtures.js";
import { subscribe } from "./subscriber.js";

const msg = (seq: number, queued_at = Date.now(), size = 10): SpooledMessage => ({
  topic: "linewatch/box/cam/result",
  camera: "cam",
  seq,
  queued_at,
  payload: Buffer.from(JSON.stringify({ seq, pad: "x".repeat(size) })),
});
const seqs = (ms: SpooledMessage[]) => ms.map((m) => m.seq);
const limits = { max_bytes: 1 << 30, max_age_ms: 0 };

describe("DiskSpool", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "lw-spool-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("keeps undelivered results across a reopen, in order, and skips a torn last line", async () => {
    const log = captureLogger().log;
    const a = DiskSpool.open(dir, limits, log);
    for (let i = 0; i < 5; i++) await a.put(msg(i));
    assert.deepEqual(seqs(await a.peek(2)), [0, 1]);
    await a.remove(2);
    await a.close();
    await a.close();
    const seg = readdirSync(dir).find((f) => f.startsWith("seg-"))!;
    appendFileSync(join(dir, seg), '{"t":"linewatch/box/cam/res'); // power loss mid-write
    const b = DiskSpool.open(dir, limits, log);
    assert.equal(b.size(), 3);
    assert.deepEqual(seqs(await b.peek(10)), [2, 3, 4]);
    assert.equal((await b.peek(1))[0].payload.toString(), JSON.stringify({ seq: 2, pad: "xxxxxxxxxx" }));
    await b.put(msg(5));
    await b.remove(4);
    assert.equal(b.size(), 0);
    await b.close();
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith("seg-")).length, 1, "spent segments are deleted");
    const c = DiskSpool.open(dir, limits, log);
    assert.equal(c.size(), 0);
    await c.close();
  });

  it("after a crash, sends again at most the deliveries of the last second (the cursor is written once a second)", async () => {
    const log = captureLogger().log;
    const a = DiskSpool.open(dir, limits, log);
    for (let i = 0; i < 5; i++) await a.put(msg(i));
    await a.remove(3);
    // A crash now (no close): the cursor on disk is older than the deliveries, they come again.
    const early = DiskSpool.open(dir, limits, log);
    assert.deepEqual(seqs(await early.peek(10)), [0, 1, 2, 3, 4]);
    await new Promise((r) => setTimeout(r, 1300));
    // A crash after the next tick: only what was not delivered.
    const late = DiskSpool.open(dir, limits, log);
    assert.deepEqual(seqs(await late.peek(10)), [3, 4]);
    await a.close();
    await early.close();
    await late.close();
  });

  it("drops the oldest, counted, past max_bytes or max_age_ms", async () => {
    let now = 1000;
    const s = DiskSpool.open(dir, { max_bytes: 100, max_age_ms: 500 }, captureLogger().log, () => now);
    for (let i = 0; i < 5; i++) await s.put(msg(i, now)); // ~30 bytes each
    assert.deepEqual(seqs(await s.peek(10)), [2, 3, 4]);
    assert.equal(s.stats().dropped, 2);
    now = 1400;
    await s.put(msg(5, now));
    now = 1600;
    assert.deepEqual(seqs(await s.peek(10)), [5]);
    assert.equal(s.stats().dropped, 5);
    await s.close();
    const again = DiskSpool.open(dir, { max_bytes: 100, max_age_ms: 0 }, captureLogger().log);
    assert.deepEqual(seqs(await again.peek(10)), [5], "drops are remembered on disk");
    await again.close();
  });

  it("delivers results spooled before a restart once the broker is back", async () => {
    const broker = await startMosquitto();
    const { port } = broker;
    const mk = () =>
      new MqttPublisher({
        mqtt: mqttSchema.parse({ url: broker.url }),
        base_topic: "linewatch",
        identity: { device: "box", version: "0.1.0", model: { name: "m", version: "1" }, started_at: Date.now() },
        cameras: [],
        log: captureLogger().log,
        spool: DiskSpool.open(join(dir, "spool"), limits, captureLogger().log),
        connect_wait_ms: 300,
        stop_timeout_ms: 500,
      });
    const first = mk();
    await first.start();
    await broker.stop();
    for (let seq = 0; seq < 3; seq++) first.publishResult(makeDecision("cam", seq));
    await first.stop(); // the daemon restarts during the outage
    const second = mk();
    await second.start();
    for (let seq = 3; seq < 6; seq++) second.publishResult(makeDecision("cam", seq));
    const back = await startMosquitto({ port });
    const sub = await subscribe(back.url, "linewatch/box/+/result");
    try {
      await sub.waitFor((m) => (JSON.parse(m.payload.toString()) as ResultPayload).seq === 5, 8000);
      assert.deepEqual(sub.messages.map((m) => (JSON.parse(m.payload.toString()) as ResultPayload).seq), [0, 1, 2, 3, 4, 5]);
    } finally {
      await sub.close();
      await second.stop();
      await back.stop();
    }
  });
});
