import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DaemonMetrics, registerDaemonMetrics } from "../../src/service/daemonMetrics.js";
import { parsePromText } from "./promText.js";

describe("DaemonMetrics", () => {
  it("exposes the stages' stats() per camera, the MQTT state, the model and the histograms", async () => {
    const m = new DaemonMetrics();
    const cams = [
      { stats: () => ({ id: "cam_a", kind: "images", state: "running" as const, frames: 10, fps: 2, last_error: null }) },
      { stats: () => ({ id: "cam_b", kind: "rtsp", state: "backoff" as const, frames: 0, fps: 0, last_error: "connection refused" }) },
    ];
    registerDaemonMetrics(m, {
      cameras: cams,
      pipeline: { stats: (c: string) => ({ received: 10, dropped: c === "cam_a" ? 1 : 0, waiting: 0, decided: 9, pass: 7, fail: 2 }), inflight: 4 },
      publisher: { stats: () => ({ connected: true, published: 9, publish_errors: 0, spool_depth: 0 }) },
      engine: { provider: "cpu", manifest: { name: "magtile-student", version: "3" } },
    });
    m.observeDecision({ camera: "cam_a" }, 42);
    m.observeBatch(8, 30);
    const { samples, types } = parsePromText(await m.render());
    const get = (name: string, labels: Record<string, string> = {}) =>
      samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    assert.equal(get("linewatch_camera_up", { camera: "cam_a" }), 1);
    assert.equal(get("linewatch_camera_up", { camera: "cam_b" }), 0);
    assert.equal(get("linewatch_camera_fps", { camera: "cam_a" }), 2);
    assert.equal(get("linewatch_camera_frames_total", { camera: "cam_a" }), 10);
    assert.equal(get("linewatch_pipeline_dropped_total", { camera: "cam_a" }), 1);
    assert.equal(get("linewatch_pipeline_fail_total", { camera: "cam_b" }), 2);
    assert.equal(types.get("linewatch_pipeline_decided_total"), "counter");
    assert.equal(types.get("linewatch_pipeline_waiting"), "gauge");
    assert.equal(get("linewatch_pipeline_inflight"), 4);
    assert.equal(get("linewatch_mqtt_connected"), 1);
    assert.equal(get("linewatch_mqtt_publish_errors_total"), 0);
    assert.equal(get("linewatch_model_info", { name: "magtile-student", provider: "cpu" }), 1);
    assert.equal(get("linewatch_decision_latency_ms_bucket", { camera: "cam_a", le: "50" }), 1);
    assert.equal(get("linewatch_inference_batch_tiles_sum"), 8);
    assert.ok(get("linewatch_system_memory_total_bytes")! > 0);
  });
});
