import assert from "node:assert/strict";
import { describe, it } from "node:test";
import sharp from "sharp";
import { CameraViews, renderView, VIEW_WAITERS_MAX, ViewError } from "../../src/service/cameraView.js";
import { HealthServer } from "../../src/service/healthServer.js";
import { MetricsRegistry } from "../../src/service/metrics.js";
import type { Frame } from "../../src/types.js";
import { captureLogger } from "../publish/fixtures.js";

/** A mid-grey frame (RGB or GRAY8). */
function frame(camera: string, width: number, height: number, format: Frame["format"] = "RGB", seq = 0): Frame {
  const ch = format === "RGB" ? 3 : 1;
  return { camera, seq, captured_at: 1_700_000_000_000 + seq, captured_mono: 0, width, height, format, data: new Uint8Array(width * height * ch).fill(128) };
}

async function pixels(png: Buffer) {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  const at = (x: number, y: number) => Array.from(data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3));
  return { info, at };
}

describe("camera view", () => {
  it("draws the ROI inside its edge and the grid's tiles where the pipeline cuts them, at full resolution", async () => {
    const roi = { x: 40, y: 20, width: 200, height: 120 };
    const v = await renderView(frame("a", 320, 200), { roi, tiling: { mode: "grid", tile: 96, overlap: 16 } }, "png");
    assert.equal(v.type, "image/png");
    assert.deepEqual(v.roi, roi);
    // 200 px wide in 96 px tiles overlapping >= 16: 3 columns; 120 high: 2 rows.
    assert.equal(v.tiles.length, 6);
    assert.deepEqual(v.tiles[0], { x: 40, y: 20, width: 96, height: 96 });
    const last = v.tiles[v.tiles.length - 1];
    assert.equal(last.x + last.width, roi.x + roi.width, "the last column ends flush with the ROI");
    assert.equal(last.y + last.height, roi.y + roi.height);
    const { info, at } = await pixels(v.image);
    assert.deepEqual([info.width, info.height, info.channels], [320, 200, 3]);
    assert.deepEqual(at(41, 80), [0, 255, 0], "the ROI's left edge, inside the ROI");
    assert.deepEqual(at(140, 138), [0, 255, 0], "the ROI's bottom edge");
    assert.deepEqual(at(38, 80), [128, 128, 128], "outside the ROI: the frame");
    assert.deepEqual(at(10, 10), [128, 128, 128]);
    // The second column's left edge (dashed: look along it for a cyan pixel) and a tile's inside.
    const x2 = v.tiles[1].x;
    const column = Array.from({ length: 40 }, (_, i) => at(x2, 40 + i));
    assert.ok(column.some((p) => p[0] < 60 && p[1] > 150 && p[2] > 200), `no tile edge at x ${x2}: ${JSON.stringify(column.slice(0, 4))}`);
    assert.deepEqual(at(x2 + 20, 60), [128, 128, 128], "inside a tile: the frame");
  });

  it("draws a GRAY8 frame in colour, and one tile over the whole ROI in resize mode", async () => {
    const v = await renderView(frame("g", 160, 90, "GRAY8"), { roi: undefined, tiling: { mode: "resize" } }, "jpeg");
    assert.equal(v.type, "image/jpeg");
    assert.deepEqual(v.roi, { x: 0, y: 0, width: 160, height: 90 });
    assert.equal(v.tiles.length, 1);
    const meta = await sharp(v.image).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height, meta.channels], ["jpeg", 160, 90, 3]);
  });

  it("shows the frame alone, with the reason, when the ROI lies outside it", async () => {
    const v = await renderView(frame("a", 320, 200), { roi: { x: 400, y: 0, width: 100, height: 100 }, tiling: { mode: "resize" } }, "png");
    assert.equal(v.roi, null);
    assert.deepEqual(v.tiles, []);
    assert.match(v.problem ?? "", /outside the 320x200 frame/);
    const { at } = await pixels(v.image);
    assert.deepEqual(at(319, 199), [128, 128, 128]);
  });

  it("waits for the camera's next frame, copies it (the pool may reuse the buffer), refuses unknown cameras, too many waiters and a silent camera", async () => {
    const views = new CameraViews([{ id: "a", roi: undefined, tiling: { mode: "resize" } }, { id: "b", roi: undefined, tiling: { mode: "resize" } }], 300);
    await assert.rejects(views.view("nope", "png"), (e: unknown) => e instanceof ViewError && e.status === 404);
    const f = frame("a", 64, 48, "RGB", 7);
    views.offer(f); // nobody waits: nothing happens
    const pending = views.view("a", "png");
    views.offer(frame("b", 64, 48)); // another camera's frame does not answer it
    f.data.fill(128);
    views.offer(f);
    f.data.fill(0); // the buffer reused by capture after the offer
    const v = await pending;
    assert.equal(v.frame.seq, 7);
    const { at } = await pixels(v.image);
    assert.deepEqual(at(32, 24), [128, 128, 128], "the view shows the frame as it was offered");
    const waiting = Array.from({ length: VIEW_WAITERS_MAX }, () => views.view("b", "png"));
    await assert.rejects(views.view("b", "png"), (e: unknown) => e instanceof ViewError && e.status === 429);
    for (const w of waiting) await assert.rejects(w, (e: unknown) => e instanceof ViewError && e.status === 503 && /no frame within 0.3 s/.test(e.message));
    const late = views.view("a", "png");
    views.close();
    await assert.rejects(late, (e: unknown) => e instanceof ViewError && e.status === 503 && /stopping/.test(e.message));
    await assert.rejects(views.view("a", "png"), (e: unknown) => e instanceof ViewError && e.status === 503);
  });

  it("is served by the health server with what it shows in headers, and errors as their status", async () => {
    const views = new CameraViews([{ id: "cam a", roi: { x: 8, y: 8, width: 48, height: 32 }, tiling: { mode: "resize" } }], 200);
    const server = new HealthServer({ bind: "127.0.0.1", port: 0, report: () => ({ ok: true, reasons: [] }), metrics: new MetricsRegistry(), views, log: captureLogger().log });
    await server.start();
    const base = `http://127.0.0.1:${server.port}`;
    const feeder = setInterval(() => views.offer(frame("cam a", 64, 48)), 20);
    try {
      let res = await fetch(`${base}/cameras/cam%20a/view.png`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "image/png");
      assert.equal(res.headers.get("x-linewatch-frame"), "64x48");
      assert.equal(res.headers.get("x-linewatch-roi"), "8,8,48,32");
      assert.equal(res.headers.get("x-linewatch-tiles"), "1");
      assert.equal((await sharp(Buffer.from(await res.arrayBuffer())).metadata()).width, 64);
      res = await fetch(`${base}/cameras/cam%20a/view.jpg`);
      assert.equal(res.headers.get("content-type"), "image/jpeg");
      res = await fetch(`${base}/cameras/other/view.png`);
      assert.equal(res.status, 404);
      assert.match(await res.text(), /no camera 'other'/);
      assert.equal((await fetch(`${base}/cameras/%E0%A4%A/view.png`)).status, 400);
      res = await fetch(`${base}/`);
      assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
      const page = await res.text();
      assert.ok(page.includes(`href="/cameras/cam%20a/view.png"`) && page.includes(`href="/healthz"`), page);
      assert.equal((await fetch(`${base}/cameras/cam%20a/view.gif`)).status, 404);
      clearInterval(feeder);
      res = await fetch(`${base}/cameras/cam%20a/view.png`);
      assert.equal(res.status, 503);
      assert.match(await res.text(), /delivered no frame within 0.2 s/);
    } finally {
      clearInterval(feeder);
      await server.stop();
    }
  });
});
