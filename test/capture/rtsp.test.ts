import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { after, describe, it } from "node:test";
import type { Camera } from "../../src/capture/index.js";
import { camera, memoryLog, seqGapFree, waitFor } from "./helpers.js";

const SERVER = new URL("../fixtures/rtsp_server.py", import.meta.url).pathname;
const servers: ChildProcess[] = [];
const cams: Camera[] = [];
after(async () => {
  await Promise.all(cams.map((c) => c.stop()));
  for (const s of servers) s.kill("SIGKILL");
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr !== null ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

/** Starts the fixture RTSP server and resolves once it listens. */
function startServer(port: number): Promise<ChildProcess> {
  const proc = spawn("/usr/bin/python3", [SERVER, String(port), "320x240", "15"], { stdio: ["ignore", "pipe", "inherit"] });
  servers.push(proc);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("RTSP server did not start in 10 s")), 10_000);
    proc.stdout?.on("data", (d: Buffer) => {
      if (d.toString().includes("READY")) {
        clearTimeout(timer);
        resolve(proc);
      }
    });
    proc.once("exit", (code) => reject(new Error(`RTSP server exited with ${code}`)));
  });
}

describe("rtsp camera", () => {
  it("delivers frames over RTSP, goes down within 3 s when the server dies, and is back within 5 s of its return", async (t) => {
    const port = await freePort();
    let server = await startServer(port);
    const { log, lines } = memoryLog();
    const opts = { backoffInitialMs: 200, backoffMaxMs: 1000, startTimeoutMs: 4000, stallTimeoutMs: 2000 };
    const { cam, frames } = camera({ id: "rtsp", kind: "rtsp", url: `rtsp://127.0.0.1:${port}/test`, latency_ms: 100 }, log, opts);
    const other = camera({ id: "other", kind: "test", width: 64, height: 48, fps: 20 });
    cams.push(cam, other.cam);
    await Promise.all([cam.start(), other.cam.start()]);
    await waitFor(() => frames.length >= 10, 5000, "10 RTSP frames");
    assert.deepEqual([frames[0].width, frames[0].height, frames[0].format, frames[0].data.length], [320, 240, "RGB", 320 * 240 * 3]);

    server.kill("SIGKILL");
    const downMs = await waitFor(() => cam.stats().state === "down", 3000, "the camera to be reported down");
    const atDown = frames.length;
    const otherAtDown = other.frames.length;
    assert.ok(lines.some((l) => l.msg === "camera down" && l.camera === "rtsp"), "the failure is logged");
    await waitFor(() => cam.stats().restarts >= 2, 4000, "reconnection attempts");
    assert.equal(frames.length, atDown, "no frames while the server is gone");
    assert.ok(other.frames.length - otherAtDown >= 10, "the other camera never stalled");

    server = await startServer(port);
    const backMs = await waitFor(() => frames.length > atDown + 3, 5000, "frames after the server's return");
    assert.equal(cam.stats().state, "running");
    assert.ok(seqGapFree(frames));
    assert.equal(other.cam.stats().state, "running");
    t.diagnostic(`rtsp: down detected after ${downMs.toFixed(0)} ms, frames back ${backMs.toFixed(0)} ms after the server returned`);
  });
});
