import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { resultPayload, resultTopic, statusPayload, statusTopic, thumbnailTopic } from "../../src/publish/topics.js";
import { makeDecision, schemaValidator } from "./fixtures.js";

const id = { device: "line1", version: "0.1.0", model: { name: "magtile-student", version: "2" }, started_at: Date.UTC(2026, 0, 2, 3, 4, 5) };

describe("topics and payloads", () => {
  it("builds the stable topic names", () => {
    assert.equal(statusTopic("linewatch", "line1"), "linewatch/line1/status");
    assert.equal(resultTopic("plant/a", "line1", "cam_a"), "plant/a/line1/cam_a/result");
    assert.equal(thumbnailTopic("linewatch", "line1", "cam_a"), "linewatch/line1/cam_a/thumbnail");
  });

  it("turns a decision into a schema-valid result without pixels", () => {
    const d = makeDecision("cam_a", 3, { fail: true });
    d.captured_at = Date.UTC(2026, 0, 2, 3, 4, 5, 250);
    d.regions[0].area_pct = 3.2552083333;
    const r = resultPayload(d, id);
    assert.equal(r.captured_at, "2026-01-02T03:04:05.250Z");
    assert.equal(r.latency_ms, 40.1235);
    assert.equal(r.regions[0].area_pct, 3.2552);
    assert.deepEqual(r.model, id.model);
    assert.equal(r.device, "line1");
    assert.deepEqual(Object.keys(r).sort(), ["camera", "captured_at", "decided_at", "device", "frame_id", "latency_ms", "model", "regions", "roi", "score", "seq", "threshold", "verdict"]);
    const valid = schemaValidator("result");
    assert.ok(valid(r), JSON.stringify(valid.errors));
    assert.ok(!valid({ ...r, verdict: "maybe" }), "the schema rejects an unknown verdict");
    assert.ok(!valid({ ...r, extra: 1 }), "the schema rejects unknown fields");
  });

  it("lists every camera as stopped in an offline status", () => {
    const cams = [{ id: "cam_a", kind: "rtsp", state: "up" as const }];
    const on = statusPayload("online", id, cams, Date.UTC(2026, 0, 2, 3, 5));
    const off = statusPayload("offline", id, cams);
    assert.equal(on.cameras[0].state, "up");
    assert.equal(on.at, "2026-01-02T03:05:00.000Z");
    assert.equal(on.started_at, "2026-01-02T03:04:05.000Z");
    assert.equal(off.cameras[0].state, "stopped");
    const valid = schemaValidator("status");
    assert.ok(valid(on) && valid(off), JSON.stringify(valid.errors));
  });
});
