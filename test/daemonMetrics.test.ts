import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DaemonMetrics } from "../src/daemonMetrics.js";
import { MetricsRegistry } from "../src/service/metrics.js";
import { parsePromText } from "./service/promText.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A DaemonMetrics over a fresh registry, with one camera and no publisher. */
function metrics(): MetricsRegistry {
  const registry = new MetricsRegistry();
  new DaemonMetrics(registry, {
    cameras: () => [{ id: "a", state: "running", frames: 3, dropped: 4, skipped: 0, errors: 0, restarts: 0 }],
    pipeline: () => ({ received: 3, dropped: 1, waiting: 0, bad_frames: 0, inference_errors: 0, decided: 2, pass: 2, fail: 0 }),
    inflight: () => 0,
    publisher: () => null,
    thumbnails: () => ({ rendered: 0, skipped: 0, errors: 0 }),
    commands: () => ({ accepted: 0, rejected: 0, answers_best_effort: 0 }),
    inferenceBusy: () => 0.625,
    inputBuffers: () => ({ count: 3, bytes: 3 * 786_432 }),
  });
  return registry;
}

const value = (text: string, name: string) => parsePromText(text).samples.find((s) => s.name === name)?.value;

describe("DaemonMetrics", () => {
  it("reports event-loop lag beyond the monitor's own 20 ms interval: an idle loop reads near 0, a blocked one its block", async () => {
    const registry = metrics();
    await sleep(400);
    const idle = await registry.render();
    // Node's histogram of an idle loop reads 20.1 ms and more (its tick interval): the metric must not.
    assert.ok(value(idle, "nodejs_eventloop_lag_p99_seconds")! < 0.015, `idle p99 ${value(idle, "nodejs_eventloop_lag_p99_seconds")}`);
    await sleep(100);
    const until = performance.now() + 80;
    while (performance.now() < until);
    await sleep(100);
    const blocked = await registry.render();
    const max = value(blocked, "nodejs_eventloop_lag_max_seconds")!;
    assert.ok(max >= 0.06 && max < 0.12, `an 80 ms block read as ${max} s`);
  });

  it("counts frames dropped in the camera's sink and in the pipeline's queue together", async () => {
    const text = await metrics().render();
    const s = parsePromText(text).samples.find((x) => x.name === "linewatch_frames_dropped_total");
    assert.deepEqual([s?.labels.camera, s?.value], ["a", 5]);
  });

  it("reports how busy the inference workers were", async () => {
    assert.equal(value(await metrics().render(), "linewatch_inference_busy_ratio"), 0.625);
  });

  it("reports the bytes of spare model-input buffers the engine holds", async () => {
    assert.equal(value(await metrics().render(), "linewatch_inference_input_buffers_bytes"), 3 * 786_432);
  });
});
