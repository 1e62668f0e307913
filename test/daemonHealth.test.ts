import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { CameraStats } from "../src/capture/camera.js";
import { cameraSchema } from "../src/config/camera.js";
import { cameraStatus, healthReport } from "../src/daemonHealth.js";

const now = 1_800_000_000_000;
const stats = (id: string, state: CameraStats["state"], ageMs: number | null): CameraStats => ({
  id, kind: "rtsp", state, last_frame_at: ageMs === null ? null : now - ageMs, frames: 10, dropped: 0, skipped: 0, errors: 0, restarts: 0, last_error: state === "down" ? "end of stream" : null, width: 320, height: 240,
});
const cameras = ["a", "b"].map((id) => cameraSchema.parse({ id, kind: "rtsp", url: "rtsp://127.0.0.1:8554/x", stale_after_ms: 2000 }));
const input = { device: "box", cameras, model: { name: "m", provider: "cpu" }, mqtt_connected: true, stopping: false, now };

describe("daemon health", () => {
  it("is healthy while every camera runs with a fresh frame", () => {
    const r = healthReport({ ...input, stats: [stats("a", "running", 100), stats("b", "running", 1999)] });
    assert.equal(r.ok, true);
    assert.deepEqual(r.reasons, []);
  });

  it("reports a camera capture knows is down at once, before its last frame goes stale", () => {
    const r = healthReport({ ...input, stats: [stats("a", "down", 300), stats("b", "running", 100)] });
    assert.equal(r.ok, false);
    assert.deepEqual(r.reasons, ["camera a down: no frame for 0 s (end of stream)"]);
  });

  it("reports a running camera whose frames went stale, a missing model and a stop", () => {
    const r = healthReport({ ...input, model: null, stopping: true, stats: [stats("a", "running", 2500), stats("b", "starting", null)] });
    assert.deepEqual(r.reasons, ["model not loaded", "stopping", "camera a running: no frame for 3 s", "camera b starting: no frame yet"]);
  });

  it("says how busy the inference workers were, to three decimals, and null before the model is loaded", () => {
    const s = [stats("a", "running", 100), stats("b", "running", 100)];
    assert.equal(healthReport({ ...input, stats: s, inference_busy: 0.61234 }).details?.inference_busy, 0.612);
    assert.equal(healthReport({ ...input, stats: s, inference_busy: null }).details?.inference_busy, null);
  });

  it("maps capture states onto the status payload's", () => {
    const states = cameraStatus([stats("a", "running", 0), stats("b", "starting", 0), stats("c", "down", 0), stats("d", "ended", 0), stats("e", "stopped", 0)]).map((c) => c.state);
    assert.deepEqual(states, ["up", "starting", "down", "down", "stopped"]);
  });
});
