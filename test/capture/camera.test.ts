import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { Camera } from "../../src/capture/index.js";
import { camera, memoryLog, seqGapFree, sleep, waitFor } from "./helpers.js";

const cams: Camera[] = [];
after(async () => Promise.all(cams.map((c) => c.stop())));

describe("test source camera", () => {
  it("delivers packed RGB frames of the configured odd size, in order, at the configured rate", async () => {
    // 161 px * 3 = 483 bytes a row, which GStreamer pads to 484: the padding must be gone.
    const { cam, frames } = camera({ id: "red", kind: "test", pattern: "red", width: 161, height: 121, fps: 10 });
    cams.push(cam);
    await cam.start();
    assert.equal(cam.stats().state, "running");
    const t0 = frames.length;
    await sleep(1500);
    const n = frames.length - t0;
    assert.ok(n >= 12 && n <= 18, `10 fps for 1.5 s gave ${n} frames`);
    assert.ok(seqGapFree(frames));
    for (const f of frames) {
      assert.equal(f.camera, "red");
      assert.equal(f.format, "RGB");
      assert.deepEqual([f.width, f.height, f.data.length], [161, 121, 161 * 121 * 3]);
    }
    const last = frames[frames.length - 1];
    const px = (x: number, y: number) => Array.from(last.data.subarray((y * 161 + x) * 3, (y * 161 + x) * 3 + 3));
    assert.deepEqual(px(0, 0), [255, 0, 0]);
    assert.deepEqual(px(160, 60), [255, 0, 0], "a row shifted by stride padding would not be red here");
    assert.deepEqual(px(160, 120), [255, 0, 0]);
    assert.ok(last.captured_at >= frames[0].captured_at && last.captured_mono > frames[0].captured_mono);
    const s = cam.stats();
    assert.deepEqual([s.width, s.height, s.errors, s.restarts, s.skipped], [161, 121, 0, 0, 0]);
    assert.equal(s.frames, frames.length);
    assert.ok(Date.now() - (s.last_frame_at ?? 0) < 500);
  });

  it("copies samples into pooled buffers: released ones come back with whole new frames", async () => {
    // 161 px RGB rows are padded by GStreamer: every reused buffer is cut in place again.
    const { cam } = camera({ id: "pool", kind: "test", pattern: "checkers-8", width: 161, height: 121, fps: 50 });
    cams.push(cam);
    const sums: number[] = [];
    const buffers = new Set<ArrayBufferLike>();
    cam.frames$.subscribe((f) => {
      let sum = 0;
      for (let i = 0; i < f.data.length; i++) sum = (sum * 31 + f.data[i]) >>> 0;
      sums.push(f.data.length === 161 * 121 * 3 ? sum : -1);
      buffers.add(f.data.buffer);
      f.release?.();
    });
    await cam.start();
    await waitFor(() => sums.length >= 40, 5000, "40 frames");
    const pool = cam.poolStats();
    await cam.stop();
    assert.ok(sums.every((s) => s === sums[0]), "every frame of a still pattern is the same, whichever buffer it came in");
    assert.ok(buffers.size <= 3, `${buffers.size} buffers for ${sums.length} frames`);
    assert.ok(pool.reused >= sums.length - 4 && pool.refused === 0, JSON.stringify(pool));
  });

  it("a frame that is not released keeps its pixels while later frames arrive", async () => {
    const { cam } = camera({ id: "hold", kind: "test", pattern: "ball", width: 160, height: 120, fps: 50 });
    cams.push(cam);
    const held: { data: Uint8Array; copy: Uint8Array }[] = [];
    let n = 0;
    cam.frames$.subscribe((f) => {
      if (++n % 8 === 0) held.push({ data: f.data, copy: Uint8Array.from(f.data) });
      else f.release?.();
    });
    await cam.start();
    await waitFor(() => n >= 60, 5000, "60 frames");
    await cam.stop();
    assert.ok(held.length >= 7);
    assert.notDeepEqual(held[0].copy, held[1].copy, "the ball moves: frames differ");
    for (const [i, h] of held.entries()) assert.ok(Buffer.compare(h.data, h.copy) === 0, `held frame ${i} was overwritten`);
    assert.ok(cam.poolStats().reused > 30);
  });

  it("drops the oldest frames and counts them when the consumer is slow", async () => {
    const { cam } = camera({ id: "slow", kind: "test", width: 64, height: 48, fps: 50 });
    cams.push(cam);
    let seen = 0;
    cam.frames$.subscribe(() => {
      seen++;
      const until = performance.now() + 60; // a consumer that needs 60 ms a frame, at 50 fps
      while (performance.now() < until);
    });
    await cam.start();
    await sleep(1200);
    await cam.stop();
    const s = cam.stats();
    assert.equal(s.frames, seen);
    assert.ok(seen < 30, `the consumer could take ~20 frames, got ${seen}`);
    assert.ok(s.dropped >= 20, `~60 frames produced, ${seen} taken, dropped counted ${s.dropped}`);
  });

  it("takes no frame while the consumer has no demand, drops in the sink meanwhile, and goes on at resume()", async () => {
    const { cam, frames } = camera({ id: "demand", kind: "test", width: 64, height: 48, fps: 50 });
    cams.push(cam);
    let open = true;
    cam.setDemand(() => open);
    await cam.start();
    await waitFor(() => frames.length >= 5, 5000, "first frames");
    open = false;
    await sleep(60);
    const held = frames.length;
    // Parked for 2 s at 50 fps: no frame taken, no restart (the stall watchdog, 1.5 s here, sleeps), ~100 dropped by the sink.
    await sleep(2000);
    assert.equal(frames.length, held, "frames arrived while the consumer wanted none");
    assert.equal(cam.stats().state, "running");
    assert.equal(cam.stats().restarts, 0);
    assert.ok(cam.stats().dropped >= 70, `dropped while parked: ${cam.stats().dropped}`);
    cam.resume();
    assert.equal(frames.length, held, "resume() without demand must not take a frame");
    open = true;
    cam.resume();
    await waitFor(() => frames.length >= held + 10, 5000, "frames after resume()");
    assert.ok(seqGapFree(frames), "seq stays gap-free over delivered frames");
    assert.equal(cam.stats().frames, frames.length);
  });

  it("stop() twice is safe, completes frames$ and delivers nothing after", async () => {
    const { cam, frames } = camera({ id: "stopper", kind: "test", width: 64, height: 48 });
    let completed = false;
    cam.frames$.subscribe({ complete: () => (completed = true) });
    await cam.start();
    await Promise.all([cam.stop(), cam.stop()]);
    await cam.stop();
    const n = frames.length;
    await sleep(300);
    assert.equal(frames.length, n);
    assert.ok(completed);
    assert.equal(cam.stats().state, "stopped");
    await cam.start(); // after stop: a no-op, not a restart
    assert.equal(cam.stats().state, "stopped");
  });
});

describe("raw pipeline camera", () => {
  it("plays a description ending in appsink name=sink and delivers GRAY8 frames", async () => {
    const description =
      "videotestsrc is-live=true pattern=white ! video/x-raw,width=66,height=50,framerate=20/1 ! videoconvert ! video/x-raw,format=GRAY8 ! appsink name=sink sync=false drop=true max-buffers=2";
    const { cam, frames } = camera({ id: "raw", kind: "pipeline", description });
    cams.push(cam);
    await cam.start();
    await waitFor(() => frames.length >= 5, 3000, "5 frames");
    const f = frames[0];
    assert.deepEqual([f.format, f.width, f.height, f.data.length], ["GRAY8", 66, 50, 66 * 50]);
    assert.ok(f.data.every((v) => v === 235 || v === 255), "white pattern");
    await cam.stop();
  });

  it("a bad description leaves the camera down with GStreamer's reason, retrying, logged", async () => {
    const { log, lines } = memoryLog();
    const { cam, frames } = camera({ id: "bad", kind: "pipeline", description: "videotestsrc ! nosuchelement ! appsink name=sink" }, log);
    cams.push(cam);
    await cam.start();
    assert.equal(cam.stats().state, "down");
    assert.match(cam.stats().last_error ?? "", /no element "nosuchelement"/);
    await waitFor(() => cam.stats().restarts >= 2, 3000, "two retries");
    assert.equal(frames.length, 0);
    const logged = lines.filter((l) => l.msg === "camera down" && l.camera === "bad");
    assert.equal(logged.length, 1, "the same failure is logged once at error level, not at every retry");
    assert.equal(logged[0].level, 50);
    await cam.stop();
  });

  it("a pipeline that never delivers a frame is declared down by the start watchdog, and retried", async () => {
    const { cam } = camera({ id: "silent", kind: "pipeline", description: "appsrc is-live=true ! videoconvert ! appsink name=sink" }, undefined, {
      startTimeoutMs: 400,
      backoffInitialMs: 100,
      backoffMaxMs: 200,
    });
    cams.push(cam);
    const t0 = performance.now();
    await cam.start();
    const ms = performance.now() - t0;
    assert.equal(cam.stats().state, "down");
    assert.ok(ms >= 350 && ms < 1500, `down after ${ms.toFixed(0)} ms`);
    assert.equal(cam.stats().last_error, "no frame within 400 ms of start");
    await waitFor(() => cam.stats().restarts >= 1 && cam.stats().errors >= 2, 3000, "a retry that times out again");
    await cam.stop();
  });

  it("samples of a format it cannot pack are skipped and counted, never delivered", async () => {
    const description = "videotestsrc is-live=true ! video/x-raw,format=I420,width=64,height=48,framerate=30/1 ! appsink name=sink sync=false";
    const { cam, frames } = camera({ id: "i420", kind: "pipeline", description });
    cams.push(cam);
    await waitFor(() => (void cam.start(), cam.stats().skipped >= 5), 3000, "skipped samples");
    assert.equal(frames.length, 0);
    assert.notEqual(cam.stats().state, "running");
    await cam.stop();
  });

  it("a description without an appsink named sink is refused with a clear message", async () => {
    const { cam } = camera({ id: "nosink", kind: "pipeline", description: "videotestsrc ! videoconvert ! fakesink" });
    cams.push(cam);
    await cam.start();
    assert.equal(cam.stats().state, "down");
    assert.match(cam.stats().last_error ?? "", /appsink named sink/);
    await cam.stop();
  });
});
