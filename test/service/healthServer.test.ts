import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HealthServer, type HealthReport } from "../../src/service/healthServer.js";
import { MetricsRegistry } from "../../src/service/metrics.js";
import { systemCollector } from "../../src/service/systemMetrics.js";
import { captureLogger } from "../publish/fixtures.js";
import { parsePromText } from "./promText.js";

describe("HealthServer", () => {
  it("answers /healthz 200 or 503 from the report, /metrics in the text format, 404 otherwise", async () => {
    let report: HealthReport = { ok: true, reasons: [], details: { cameras: { cam_a: "up" } } };
    const metrics = new MetricsRegistry();
    metrics.counter("linewatch_frames_decided_total", "Frames decided").inc({ camera: "cam_a", verdict: "pass" });
    metrics.registerCollector(systemCollector({ ttl_ms: 60_000 }));
    const server = new HealthServer({ bind: "127.0.0.1", port: 0, report: () => report, metrics, log: captureLogger().log });
    await server.start();
    const base = `http://127.0.0.1:${server.port}`;
    try {
      let res = await fetch(`${base}/healthz`);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { status: "ok", cameras: { cam_a: "up" } });
      report = { ok: false, reasons: ["camera cam_a: no frame for 6.0 s"], details: { cameras: { cam_a: "down" } } };
      res = await fetch(`${base}/healthz`);
      assert.equal(res.status, 503);
      assert.deepEqual(await res.json(), { status: "unhealthy", reasons: ["camera cam_a: no frame for 6.0 s"], cameras: { cam_a: "down" } });
      const t0 = performance.now();
      res = await fetch(`${base}/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
      const { samples, types } = parsePromText(await res.text());
      assert.equal(types.get("linewatch_frames_decided_total"), "counter");
      const names = new Set(samples.map((s) => s.name));
      for (const n of ["linewatch_system_cpu_load_percent", "linewatch_system_memory_total_bytes", "linewatch_system_memory_available_bytes", "process_resident_memory_bytes"]) assert.ok(names.has(n), `${n} in /metrics`);
      // The test process runs on the system malloc (a preloaded jemalloc: test/service/allocator.test.ts).
      assert.deepEqual(samples.filter((s) => s.name === "linewatch_memory_allocator_info").map((s) => [s.labels, s.value]), [[{ allocator: "system" }, 1]]);
      // The second scrape reads systeminformation from the cache: fast.
      const t1 = performance.now();
      await (await fetch(`${base}/metrics`)).text();
      assert.ok(performance.now() - t1 < Math.max(200, (t1 - t0) / 2), `cached scrape took ${performance.now() - t1} ms`);
      assert.equal((await fetch(`${base}/nothing`)).status, 404);
      assert.equal((await fetch(`${base}/healthz`, { method: "POST" })).status, 405);
    } finally {
      await Promise.all([server.stop(), server.stop()]);
    }
    await assert.rejects(fetch(`${base}/healthz`));
  });

  it("answers 503 when the health callback throws", async () => {
    const server = new HealthServer({ bind: "127.0.0.1", port: 0, report: () => { throw new Error("boom"); }, metrics: new MetricsRegistry(), log: captureLogger().log });
    await server.start();
    try {
      const res = await fetch(`http://127.0.0.1:${server.port}/healthz`);
      assert.equal(res.status, 503);
      assert.deepEqual(await res.json(), { status: "unhealthy", reasons: ["health check failed: boom"] });
    } finally {
      await server.stop();
    }
  });
});
