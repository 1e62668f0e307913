import assert from "node:assert/strict";
import { describe, it } from "node:test";
import sharp from "sharp";
import { renderThumbnail, ThumbnailRenderer } from "../../src/publish/thumbnail.js";
import { makeDecision } from "./fixtures.js";

describe("thumbnails", () => {
  it("decodes as a JPEG of the configured width with the defect drawn in red", async () => {
    const d = makeDecision("cam_a", 0, { fail: true, width: 640, height: 480 });
    // Put the defect where a 160 px thumbnail shows it: scale the fixture's 10x10 square up.
    d.mask.fill(0);
    for (let y = 100; y < 200; y++) for (let x = 200; x < 300; x++) d.mask[y * 640 + x] = 1;
    d.regions = [{ ...d.regions[0], x: 200, y: 100, width: 100, height: 100 }];
    const jpeg = await renderThumbnail(d, 160, 80);
    assert.deepEqual([...jpeg.subarray(0, 3)], [0xff, 0xd8, 0xff]);
    const meta = await sharp(jpeg).metadata();
    assert.equal(meta.format, "jpeg");
    assert.equal(meta.width, 160);
    assert.equal(meta.height, 120);
    const { data, info } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
    const px = (x: number, y: number) => [...data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3)];
    const [r, g, b] = px(62, 37); // inside the defect (thumbnail coordinates 50..75, 25..50)
    assert.ok(r > g + 40 && r > b + 40, `defect pixel is red: ${[r, g, b]}`);
    const [r0, g0, b0] = px(10, 100); // far from it: the grey background
    assert.ok(Math.abs(r0 - 128) < 12 && Math.abs(g0 - 128) < 12 && Math.abs(b0 - 128) < 12, `background stays grey: ${[r0, g0, b0]}`);
  });

  it("draws a mask of coarse cells over the pixels the cells cover", async () => {
    const d = makeDecision("cam_a", 0, { fail: false, width: 642, height: 480 });
    // 8 px cells, the last column 2 px wide: set cells 25..37 x 12..24 (ROI 200..303, 96..199).
    const map = { ...d.map, width: 81, height: 60, step: 8 };
    const mask = new Uint8Array(81 * 60);
    for (let j = 12; j < 25; j++) for (let i = 25; i < 38; i++) mask[j * 81 + i] = 1;
    mask[59 * 81 + 80] = 1; // the narrow bottom-right cell
    const jpeg = await renderThumbnail({ ...d, map, mask }, 321, 90);
    const { data, info } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
    const red = (x: number, y: number) => {
      const i = (y * info.width + x) * info.channels;
      return data[i] > data[i + 1] + 40;
    };
    assert.ok(red(125, 74), "inside the cells");
    assert.ok(!red(90, 74) && !red(125, 30), "outside them");
    assert.ok(red(320, 239), "the last, narrow cell");
  });

  it("renders GRAY8 ROIs and tiny defects that a plain nearest-neighbour shrink would lose", async () => {
    const d = makeDecision("cam_a", 0, { fail: false, width: 1000, height: 500, format: "GRAY8" });
    d.mask[250 * 1000 + 500] = 1; // one defect pixel, 10x shrink
    const jpeg = await renderThumbnail(d, 100, 90);
    const { data, info } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
    assert.equal(info.width, 100);
    assert.equal(info.height, 50);
    const i = (25 * 100 + 50) * info.channels;
    assert.ok(data[i] > data[i + 1] + 40, `the defect shows in red: ${[...data.subarray(i, i + 3)]}`);
  });

  it("renders at most one thumbnail per camera per interval", async () => {
    let now = 0;
    const r = new ThumbnailRenderer({ enabled: true, width: 32, interval_ms: 1000, fail_interval_ms: 1000, quality: 70 }, () => now);
    const d = makeDecision("cam_a", 0);
    assert.ok(await r.render(d));
    now = 500;
    assert.equal(await r.render(d), null);
    assert.ok(await r.render(makeDecision("cam_b", 0)), "cameras are limited apart");
    now = 1000;
    const [a, b] = await Promise.all([r.render(d), r.render(d)]);
    assert.ok(a && !b, "a second call while one renders is skipped");
    assert.deepEqual(r.stats(), { rendered: 3, skipped: 2, errors: 0 });
    const off = new ThumbnailRenderer({ enabled: false, width: 32, interval_ms: 0, fail_interval_ms: 0, quality: 70 });
    assert.equal(await off.render(d), null);
  });

  it("keeps a clock of its own for failing frames, so a pass thumbnail never hides a failed part", async () => {
    let now = 0;
    const r = new ThumbnailRenderer({ enabled: true, width: 32, interval_ms: 1000, fail_interval_ms: 200, quality: 70 }, () => now);
    const pass = makeDecision("cam_a", 0);
    const fail = makeDecision("cam_a", 1, { fail: true });
    assert.ok(await r.render(pass));
    now = 10;
    assert.equal(r.due("cam_a", "pass"), false);
    assert.equal(r.due("cam_a", "fail"), true);
    assert.ok(await r.render(fail), "a failed part right after a pass thumbnail");
    now = 150;
    assert.equal(await r.render(fail), null, "failing frames are limited by fail_interval_ms");
    now = 210;
    assert.ok(await r.render(fail));
    assert.equal(await r.render(pass), null, "failing thumbnails do not reset the pass clock, nor free it");
    now = 1000;
    const [a, b] = await Promise.all([r.render(pass), r.render(fail)]);
    assert.ok(a && b, "a pass and a fail render side by side");
    assert.deepEqual(r.stats(), { rendered: 5, skipped: 2, errors: 0 });
  });

  it("names its frame in the JPEG's EXIF (ImageDescription) and says what made it (Software)", async () => {
    const d = makeDecision("cam_a", 7, { fail: true });
    const jpeg = await renderThumbnail({ ...d, frame_id: "cam_a-1795440000123-7" }, 64, 75);
    const exif = (await sharp(jpeg).metadata()).exif?.toString("latin1") ?? "";
    assert.ok(exif.startsWith("Exif\0\0"), "an EXIF block");
    assert.ok(exif.includes("cam_a-1795440000123-7\0"), "the frame id, NUL-terminated as EXIF ASCII is");
    assert.match(exif, /linewatch \d+\.\d+\.\d+\0/);
    const { frame_id, ...unnamed } = d;
    const bare = (await sharp(await renderThumbnail(unnamed, 64, 75)).metadata()).exif?.toString("latin1") ?? "";
    assert.ok(!bare.includes(frame_id) && bare.includes("linewatch "), "no id given: none written");
  });
});
