import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { exitWithin, startDaemon } from "../helpers/daemon.js";
import { freePort } from "../helpers/mosquitto.js";

describe("the journal when inference falls behind the cameras", { timeout: 120_000 }, () => {
  it("says how many frames were dropped, how busy the workers were and what to do, at most once a period", async () => {
    // Two 1080p cameras at 30 fps in 512 px tiles offer 720 tiles/s to one single-threaded
    // inference worker: far more than one core infers, on any box this project runs on.
    const camera = (id: string) => ({ id, kind: "test", width: 1920, height: 1080, fps: 30, tiling: { mode: "grid", tile: 512, overlap: 32 } });
    const daemon = startDaemon({
      device_id: "load",
      cameras: [camera("a"), camera("b")],
      model: { providers: [{ kind: "cpu" }], workers: 1, threads: 1 },
      pipeline: { load_notice_s: 2 },
      mqtt: { url: "embedded", embedded_port: await freePort() },
      health: { port: 0 },
    });
    try {
      const isNotice = (l: Record<string, unknown>) => l.mod === "load";
      const first = await daemon.waitForLog(isNotice, 90_000);
      assert.equal(first.level, 40, JSON.stringify(first));
      assert.match(String(first.msg), /^inference falls behind the cameras: \d+ frame\(s\) dropped in the last [23] s; lower the cameras' fps, narrow their ROI, or give the model more cores or a GPU$/);
      assert.ok(Number(first.dropped) > 0, JSON.stringify(first));
      const byCamera = first.dropped_by_camera as Record<string, number>;
      assert.equal(Object.values(byCamera).reduce((x, y) => x + y, 0), first.dropped, JSON.stringify(first));
      assert.ok(Object.keys(byCamera).every((c) => c === "a" || c === "b"), JSON.stringify(byCamera));
      const busy = Number(first.inference_busy);
      assert.ok(busy > 0.5 && busy <= 1, `inference_busy ${busy}`);
      // The next notice comes a period later, not at every tick.
      const firstAt = Date.parse(String(first.time));
      const second = await daemon.waitForLog((l) => isNotice(l) && l !== first, 30_000);
      const gap = Date.parse(String(second.time)) - firstAt;
      assert.ok(gap >= 1900 && gap < 6000, `notices ${gap} ms apart with load_notice_s 2`);
    } finally {
      daemon.proc.kill("SIGINT");
      const { code } = await exitWithin(daemon, 30_000);
      assert.equal(code, 0, daemon.logs.slice(-5).map((l) => JSON.stringify(l)).join("\n"));
    }
  });
});
