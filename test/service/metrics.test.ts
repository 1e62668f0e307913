import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MetricError, MetricsRegistry } from "../../src/service/metrics.js";
import { parsePromText } from "./promText.js";

describe("MetricsRegistry", () => {
  it("renders counters, gauges, histograms and collectors in the text format", async () => {
    const reg = new MetricsRegistry();
    const frames = reg.counter("linewatch_frames_decided_total", "Frames decided");
    frames.inc({ camera: "cam_a", verdict: "pass" });
    frames.inc({ camera: "cam_a", verdict: "pass" }, 2);
    frames.inc({ verdict: "fail", camera: "cam_\"b\"\n" });
    reg.gauge("linewatch_queue_depth", "Frames waiting\nfor inference").set(3);
    const lat = reg.histogram("linewatch_inference_latency_ms", "Inference latency, ms", [10, 100]);
    lat.observe(5, { provider: "cpu" });
    lat.observe(50, { provider: "cpu" });
    lat.observe(500, { provider: "cpu" });
    reg.registerCollector(() => [{ name: "linewatch_mqtt_connected", help: "1 when connected", type: "gauge", samples: [{ value: 1 }] }]);
    reg.registerCollector(() => {
      throw new Error("a broken collector is skipped");
    });
    reg.registerCollector(async () => [{ name: "linewatch_camera_fps", help: "fps", type: "gauge", samples: [{ labels: { camera: "cam_a" }, value: 2.5 }, { labels: { camera: "cam_b" }, value: NaN }] }]);
    const text = await reg.render();
    assert.equal(
      text,
      [
        "# HELP linewatch_frames_decided_total Frames decided",
        "# TYPE linewatch_frames_decided_total counter",
        'linewatch_frames_decided_total{camera="cam_a",verdict="pass"} 3',
        'linewatch_frames_decided_total{camera="cam_\\"b\\"\\n",verdict="fail"} 1',
        "# HELP linewatch_queue_depth Frames waiting\\nfor inference",
        "# TYPE linewatch_queue_depth gauge",
        "linewatch_queue_depth 3",
        "# HELP linewatch_inference_latency_ms Inference latency, ms",
        "# TYPE linewatch_inference_latency_ms histogram",
        'linewatch_inference_latency_ms_bucket{provider="cpu",le="10"} 1',
        'linewatch_inference_latency_ms_bucket{provider="cpu",le="100"} 2',
        'linewatch_inference_latency_ms_bucket{provider="cpu",le="+Inf"} 3',
        'linewatch_inference_latency_ms_sum{provider="cpu"} 555',
        'linewatch_inference_latency_ms_count{provider="cpu"} 3',
        "# HELP linewatch_mqtt_connected 1 when connected",
        "# TYPE linewatch_mqtt_connected gauge",
        "linewatch_mqtt_connected 1",
        "# HELP linewatch_camera_fps fps",
        "# TYPE linewatch_camera_fps gauge",
        'linewatch_camera_fps{camera="cam_a"} 2.5',
        'linewatch_camera_fps{camera="cam_b"} NaN',
        "",
      ].join("\n"),
    );
    const { samples } = parsePromText(text);
    assert.equal(samples.find((s) => s.labels.verdict === "fail")?.labels.camera, 'cam_"b"\n');
  });

  it("refuses bad names, duplicates and counters going down", () => {
    const reg = new MetricsRegistry();
    reg.counter("a_total", "a");
    assert.throws(() => reg.counter("a_total", "again"), MetricError);
    assert.throws(() => reg.gauge("bad-name", "x"), MetricError);
    assert.throws(() => reg.counter("b_total", "b").inc({ "bad-label": "x" }), MetricError);
    assert.throws(() => reg.counter("c_total", "c").inc(undefined, -1), MetricError);
    assert.throws(() => reg.histogram("h", "h", [2, 1]), MetricError);
  });
});
