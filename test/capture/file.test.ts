import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Camera } from "../../src/capture/index.js";
import { camera, seqGapFree, waitFor } from "./helpers.js";

const tmp = mkdtempSync(join(tmpdir(), "lw-file-"));
const video = join(tmp, "clip.mkv");
const cams: Camera[] = [];

before(() => {
  // 45 frames of H.264 at 30 fps (1.5 s) with a Vorbis audio track that capture must ignore.
  execFileSync("gst-launch-1.0", [
    "-q", "videotestsrc", "num-buffers=45", "pattern=ball", "!", "video/x-raw,width=160,height=120,framerate=30/1", "!",
    "x264enc", "speed-preset=ultrafast", "!", "matroskamux", "name=m", "!", "filesink", `location=${video}`,
    "audiotestsrc", "num-buffers=70", "!", "vorbisenc", "!", "m.",
  ]);
});
after(async () => {
  await Promise.all(cams.map((c) => c.stop()));
  rmSync(tmp, { recursive: true, force: true });
});

describe("file camera", () => {
  it("plays a video file once at its own rate, every frame, then ends", async () => {
    const { cam, frames } = camera({ id: "once", kind: "file", path: video, loop: false });
    cams.push(cam);
    const t0 = performance.now();
    await cam.start();
    await waitFor(() => cam.stats().state === "ended", 5000, "the end of the file");
    const elapsed = performance.now() - t0;
    assert.equal(frames.length, 45);
    assert.ok(seqGapFree(frames));
    assert.deepEqual([frames[0].width, frames[0].height, frames[0].format, frames[0].data.length], [160, 120, "RGB", 160 * 120 * 3]);
    assert.ok(elapsed > 1200 && elapsed < 4000, `1.5 s of video played in ${elapsed.toFixed(0)} ms`);
    assert.equal(cam.stats().errors, 0);
  });

  it("caps the frame rate with fps", async () => {
    const { cam, frames } = camera({ id: "capped", kind: "file", path: video, loop: false, fps: 10 });
    cams.push(cam);
    await cam.start();
    await waitFor(() => cam.stats().state === "ended", 5000, "the end of the file");
    assert.ok(frames.length >= 14 && frames.length <= 16, `1.5 s at 10 fps gave ${frames.length} frames`);
  });

  it("loops a file without counting restarts", async () => {
    const { cam, frames } = camera({ id: "loop", kind: "file", path: video, loop: true });
    cams.push(cam);
    await cam.start();
    await waitFor(() => frames.length >= 60, 5000, "60 frames");
    assert.ok(seqGapFree(frames));
    assert.deepEqual([cam.stats().state, cam.stats().restarts, cam.stats().errors], ["running", 0, 0]);
    await cam.stop();
  });

  it("a missing file is down with the reason and keeps retrying, without a crash", async () => {
    const { cam, frames } = camera({ id: "missing", kind: "file", path: join(tmp, "nope.mp4") });
    cams.push(cam);
    const t0 = performance.now();
    await cam.start();
    const detectMs = performance.now() - t0;
    assert.equal(cam.stats().state, "down");
    assert.ok(detectMs < 500, `down after ${detectMs.toFixed(0)} ms`);
    assert.match(cam.stats().last_error ?? "", /nope\.mp4 cannot be read: ENOENT/);
    await waitFor(() => cam.stats().restarts >= 2, 2000, "retries");
    assert.equal(frames.length, 0);
  });
});
