import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, copyFileSync, writeFileSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { Camera } from "../../src/capture/index.js";
import { camera, jpegSize, memoryLog, seqGapFree, sleep, waitFor } from "./helpers.js";

const DEMO = new URL("../../demo/images/", import.meta.url).pathname;
const demoFiles = readdirSync(DEMO).filter((n) => n.endsWith(".jpg")).sort();
const demoSizes = demoFiles.map((n) => jpegSize(readFileSync(join(DEMO, n))));
const tmp = mkdtempSync(join(tmpdir(), "lw-images-"));
const cams: Camera[] = [];
after(async () => {
  await Promise.all(cams.map((c) => c.stop()));
  rmSync(tmp, { recursive: true, force: true });
});

describe("images camera", () => {
  it("plays a folder of differently sized JPEGs once, in name order, at fps, then ends", async () => {
    assert.ok(new Set(demoSizes.map((s) => `${s.width}x${s.height}`)).size >= 10, "the demo images differ in size");
    const { cam, frames } = camera({ id: "demo", kind: "images", path: DEMO, fps: 20, loop: false });
    let completed = false;
    cam.frames$.subscribe({ complete: () => (completed = true) });
    const t0 = performance.now();
    await cam.start();
    await waitFor(() => cam.stats().state === "ended", 5000, "the end of the folder");
    const elapsed = performance.now() - t0;
    assert.deepEqual(frames.map((f) => ({ width: f.width, height: f.height })), demoSizes);
    for (const f of frames) assert.equal(f.data.length, f.width * f.height * 3);
    assert.ok(seqGapFree(frames));
    assert.ok(completed, "frames$ completes when a folder played once has ended");
    // 16 images at 20 fps: paced by GStreamer's clock, not decoded as fast as possible.
    assert.ok(elapsed > 650 && elapsed < 3000, `16 images at 20 fps took ${elapsed.toFixed(0)} ms`);
    const gaps = frames.slice(1).map((f, i) => f.captured_mono - frames[i].captured_mono);
    const median = gaps.sort((a, b) => a - b)[gaps.length >> 1];
    assert.ok(median > 35 && median < 70, `median gap ${median.toFixed(1)} ms at 20 fps`);
    assert.equal(cam.stats().restarts, 0);
    await cam.stop();
  });

  it("loops a folder with seq going on without gaps", async () => {
    const { cam, frames } = camera({ id: "loop", kind: "images", path: DEMO, fps: 40, loop: true });
    cams.push(cam);
    await cam.start();
    await waitFor(() => frames.length >= 20, 4000, "20 frames");
    assert.ok(seqGapFree(frames));
    assert.deepEqual([frames[16].width, frames[16].height], [demoSizes[0].width, demoSizes[0].height], "the 17th frame is the first image again");
    const s = cam.stats();
    assert.equal(s.state, "running");
    assert.deepEqual([s.errors, s.restarts], [0, 0], "a new pass is not a restart");
    await cam.stop();
  });

  it("mixes JPEG and PNG in name order and skips files that are not images", async () => {
    const dir = join(tmp, "mixed");
    mkdirSync(dir);
    copyFileSync(join(DEMO, demoFiles[0]), join(dir, "a.jpg"));
    execFileSync("gst-launch-1.0", ["-q", "filesrc", `location=${join(DEMO, demoFiles[1])}`, "!", "jpegdec", "!", "pngenc", "!", "filesink", `location=${join(dir, "b.png")}`]);
    copyFileSync(join(DEMO, demoFiles[2]), join(dir, "c.JPG"));
    writeFileSync(join(dir, "d.jpg"), ""); // empty: skipped
    writeFileSync(join(dir, "notes.txt"), "not an image");
    const { cam, frames } = camera({ id: "mixed", kind: "images", path: dir, fps: 20, loop: false });
    cams.push(cam);
    await cam.start();
    await waitFor(() => cam.stats().state === "ended", 5000, "the end of the folder");
    assert.deepEqual(frames.map((f) => [f.width, f.height]), demoSizes.slice(0, 3).map((s) => [s.width, s.height]));
    assert.equal(cam.stats().errors, 0);
  });

  it("a missing folder is down and retried while another camera runs on; it recovers when the folder appears", async () => {
    const { log, lines } = memoryLog();
    const dir = join(tmp, "later");
    const { cam, frames } = camera({ id: "missing", kind: "images", path: dir, fps: 20 }, log);
    const other = camera({ id: "other", kind: "test", width: 64, height: 48, fps: 20 });
    cams.push(cam, other.cam);
    await Promise.all([cam.start(), other.cam.start()]);
    assert.equal(cam.stats().state, "down");
    assert.match(cam.stats().last_error ?? "", /images folder .*later cannot be read: ENOENT/);
    assert.ok(lines.some((l) => l.msg === "camera down" && l.camera === "missing" && l.level === 50));
    const before = other.frames.length;
    await waitFor(() => cam.stats().restarts >= 3, 3000, "three retries");
    assert.ok(other.frames.length - before >= 10, "the other camera kept delivering");
    assert.equal(other.cam.stats().state, "running");
    mkdirSync(dir);
    copyFileSync(join(DEMO, demoFiles[3]), join(dir, "x.jpg"));
    await waitFor(() => frames.length > 0, 3000, "a frame once the folder exists");
    assert.deepEqual([frames[0].seq, frames[0].width], [0, demoSizes[3].width]);
    await sleep(100);
    assert.equal(cam.stats().state, "running");
  });
});
