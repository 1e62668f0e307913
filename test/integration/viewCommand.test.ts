import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, it } from "node:test";
import sharp from "sharp";
import { cliPath, writeConfig } from "../helpers/daemon.js";

// `linewatch view` on real GStreamer sources, as an engineer runs it while setting up a camera.
const tmp = mkdtempSync(join(tmpdir(), "lw-view-"));
const config = writeConfig({
  device_id: "view",
  state_dir: join(tmp, "state"),
  cameras: [
    { id: "bars", kind: "test", pattern: "smpte", width: 320, height: 240, roi: { x: 16, y: 8, width: 280, height: 200 }, tiling: { mode: "grid", tile: 128, overlap: 16 } },
    { id: "strip", kind: "images", path: resolve("demo/images"), roi: { x: 0, y: 0, width: 256, height: 90 } },
    { id: "gone", kind: "file", path: join(tmp, "missing.mp4") },
    { id: "off", kind: "test", width: 160, height: 120, roi: { x: 200, y: 0, width: 50, height: 50 } },
  ],
});

function view(...args: string[]) {
  const r = spawnSync(process.execPath, [cliPath, "view", "--config", config, ...args], { encoding: "utf8", timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("linewatch view", { timeout: 120_000 }, () => {
  it("writes a camera's frame with its ROI and tiles, and says what it drew", async () => {
    const out = join(tmp, "bars.png");
    const r = view("--camera", "bars", "--out", out);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /camera bars: 320x240 frame written to/);
    assert.match(r.stdout, /ROI x 16, y 8, 280x200/);
    assert.match(r.stdout, /6 tiles of 128 px, overlap at least 16 px/);
    const { data, info } = await sharp(out).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height], [320, 240]);
    const px = (x: number, y: number) => Array.from(data.subarray((y * 320 + x) * info.channels, (y * 320 + x) * info.channels + 3));
    assert.deepEqual(px(17, 100), [0, 255, 0], "the ROI's left edge");
  });

  it("notes when resize would stretch a strip, and writes JPEG when asked", async () => {
    const out = join(tmp, "strip.jpg");
    const r = view("--camera", "strip", "--out", out);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /ROI x 0, y 0, 256x90/);
    assert.match(r.stdout, /note: the ROI is 2\.8:1, so resize stretches it/);
    assert.equal((await sharp(out).metadata()).format, "jpeg");
  });

  it("exits 1 with the camera's own reason when it delivers no frame", () => {
    const r = view("--camera", "gone", "--out", join(tmp, "gone.png"));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /camera gone \(file\) delivered no frame: .*missing\.mp4/);
    assert.ok(!existsSync(join(tmp, "gone.png")));
  });

  it("exits 1 for a ROI outside the frame but still writes the frame, to show where the ROI should go", async () => {
    const out = join(tmp, "off.png");
    const r = view("--camera", "off", "--out", out);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ROI 200,0 50x50 lies outside the 160x120 frame: the daemon would skip every frame of camera off; fix its roi/);
    assert.equal((await sharp(out).metadata()).width, 160);
  });

  it("exits 2 for an unknown camera or an output it cannot write as an image", () => {
    let r = view("--camera", "nope");
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no camera 'nope' .* \(it has bars, strip, gone, off\)/);
    r = view("--camera", "bars", "--out", join(tmp, "x.gif"));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--out must end in \.png, \.jpg or \.jpeg/);
  });
});
