import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import sharp from "sharp";
import { maskToPixels, pixelMap } from "../../src/pipeline/roiMap.js";
import { RejectArchive, type ArchiveOptions } from "../../src/publish/rejectArchive.js";
import { request } from "node:http";
import { HealthServer } from "../../src/service/healthServer.js";
import { MetricsRegistry } from "../../src/service/metrics.js";
import { captureLogger, makeDecision, schemaValidator } from "./fixtures.js";

/** A GET with the path sent as written (fetch would resolve dot segments first). */
function rawGet(port: number, path: string): Promise<{ status: number }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method: "GET" }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.on("error", reject);
    req.end();
  });
}

const identity = { device: "line1", version: "0.1.0", model: { name: "m", version: "1" }, started_at: 0 };
const options: ArchiveOptions = { enabled: true, max_mb: 64, interval_ms: 1000, pass_interval_ms: 0, quality: 90 };
const validate = schemaValidator("result");

/** A failing decision with the daemon's frame id (`<camera>-<captured_at>-<seq>`) on a noisy ROI (JPEGs of some size). */
function failing(camera: string, seq: number, captured_at: number, size = 96) {
  const d = makeDecision(camera, seq, { fail: true, width: size, height: size });
  for (let i = 0; i < d.image.data.length; i++) d.image.data[i] = (i * 2654435761) >>> 24;
  return { ...d, captured_at, frame_id: `${camera}-${captured_at}-${seq}` };
}

function entries(dir: string): string[] {
  const out: string[] = [];
  for (const cam of readdirSync(dir)) for (const day of readdirSync(join(dir, cam))) for (const f of readdirSync(join(dir, cam, day))) out.push(`${cam}/${day}/${f}`);
  return out.sort();
}

describe("the archive of failed parts", () => {
  const root = mkdtempSync(join(tmpdir(), "lw-archive-"));
  after(() => rmSync(root, { recursive: true, force: true }));
  const { log, text } = captureLogger();

  it("keeps the ROI, the predicted mask at ROI resolution and the result, under camera and UTC day", async () => {
    const dir = join(root, "a");
    const archive = await RejectArchive.open(dir, options, identity, log);
    const t = Date.parse("2026-11-24T10:00:00.000Z");
    const d = failing("cam_a", 3, t);
    assert.equal(await archive.save(d), true);
    assert.deepEqual(entries(dir), [`cam_a/2026-11-24/${d.frame_id}.jpg`, `cam_a/2026-11-24/${d.frame_id}.json`, `cam_a/2026-11-24/${d.frame_id}.mask.png`]);
    const base = join(dir, "cam_a", "2026-11-24", d.frame_id);
    const result = JSON.parse(readFileSync(base + ".json", "utf8")) as { frame_id: string; verdict: string };
    assert.ok(validate(result), JSON.stringify(validate.errors));
    assert.equal(result.frame_id, d.frame_id);
    assert.equal(result.verdict, "fail");
    const jpeg = await sharp(base + ".jpg").metadata();
    assert.deepEqual([jpeg.format, jpeg.width, jpeg.height], ["jpeg", 96, 96]);
    const png = await sharp(base + ".mask.png").metadata();
    assert.deepEqual([png.format, png.width, png.height, png.channels], ["png", 96, 96, 1], "a one-channel PNG");
    const { data } = await sharp(base + ".mask.png").extractChannel(0).raw().toBuffer({ resolveWithObject: true });
    const on = [...data].map((v, i) => (v ? i : -1)).filter((i) => i >= 0);
    assert.equal(on.length, 100, "the fixture's 10x10 defect");
    assert.ok(on.every((i) => i % 96 >= 20 && i % 96 < 30 && Math.floor(i / 96) >= 10 && Math.floor(i / 96) < 20));
    assert.ok(data.every((v) => v === 0 || v === 255));
    const st = archive.stats();
    assert.equal(st.saved, 1);
    assert.equal(st.entries, 1);
    assert.equal(st.bytes, ["jpg", "json", "mask.png"].reduce((n, s) => n + readFileSync(`${base}.${s}`).length, 0));
  });

  it("draws a mask of coarse cells at ROI resolution exactly as maskToPixels does", async () => {
    const dir = join(root, "cells");
    const archive = await RejectArchive.open(dir, options, identity, log);
    const W = 203, H = 149, step = 4; // the last column and row of cells only partly in the ROI
    const gw = Math.ceil(W / step), gh = Math.ceil(H / step);
    const mask = new Uint8Array(gw * gh).map((_, i) => ((i * 7919) % 13 === 0 ? 1 : 0));
    const d = { ...failing("cam_a", 1, Date.parse("2026-11-24T10:00:00.000Z")), mask, map: { ...pixelMap(new Float32Array(gw * gh), gw, gh), step, roi_width: W, roi_height: H } };
    d.image = { width: W, height: H, format: "RGB", data: new Uint8Array(W * H * 3) };
    assert.ok(await archive.save(d));
    const { data, info } = await sharp(join(dir, "cam_a", "2026-11-24", `${d.frame_id}.mask.png`)).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height], [W, H]);
    const want = maskToPixels(mask, d.map);
    const wrong = [...data].filter((v, i) => v !== (want[i] ? 255 : 0)).length;
    assert.equal(wrong, 0, `${wrong} pixels differ`);
  });

  it("archives at most one failing frame per camera per interval, cameras apart", async () => {
    let now = 0;
    const archive = await RejectArchive.open(join(root, "b"), options, identity, log, () => now);
    const t = Date.parse("2026-11-24T10:00:00.000Z");
    assert.equal(await archive.save(failing("cam_a", 0, t)), true);
    now = 500;
    assert.equal(await archive.save(failing("cam_a", 1, t + 500)), false);
    assert.equal(await archive.save(failing("cam_b", 0, t + 500)), true);
    now = 1000;
    const [x, y] = await Promise.all([archive.save(failing("cam_a", 2, t + 1000)), archive.save(failing("cam_a", 3, t + 1000))]);
    assert.ok(x && !y, "a second frame while one is written is skipped");
    assert.deepEqual({ ...archive.stats(), bytes: 0 }, { saved: 3, saved_pass: 0, skipped: 2, errors: 0, pruned: 0, bytes: 0, entries: 3, labelled: 0, labels: [] });
    const off = await RejectArchive.open(join(root, "b-off"), { ...options, enabled: false }, identity, log);
    assert.equal(await off.save(failing("cam_a", 0, t)), false);
    assert.equal(off.stats().skipped, 0);
  });

  it("stays under max_mb, removing the oldest captures first (across cameras and days)", async () => {
    const dir = join(root, "c");
    const archive = await RejectArchive.open(dir, { ...options, interval_ms: 0 }, identity, log);
    const t = Date.parse("2026-11-23T23:59:59.000Z");
    const one = await archive.save(failing("cam_a", 0, t)).then(() => archive.stats().bytes);
    const limit = (one * 3.5) / (1024 * 1024);
    const small = await RejectArchive.open(join(root, "c2"), { ...options, interval_ms: 0, max_mb: limit }, identity, log);
    // Out of order across cameras, as frames of several cameras finish.
    const order: Array<[string, number]> = [["cam_a", 0], ["cam_b", 2], ["cam_a", 1], ["cam_b", 3], ["cam_a", 4], ["cam_b", 5]];
    for (const [cam, k] of order) await small.save(failing(cam, k, t + k * 1000));
    const st = small.stats();
    assert.ok(st.bytes <= limit * 1024 * 1024, `${st.bytes} bytes over ${limit} MiB`);
    assert.equal(st.entries, 3);
    assert.equal(st.pruned, 3);
    const left = entries(join(root, "c2")).filter((f) => f.endsWith(".json")).map((f) => f.split("/").pop());
    assert.deepEqual(left, [`cam_b-${t + 3000}-3.json`, `cam_a-${t + 4000}-4.json`, `cam_b-${t + 5000}-5.json`].sort());
    assert.ok(!existsSync(join(root, "c2", "cam_a", "2026-11-23")), "the emptied day folder is removed");
  });

  it("reopens what an earlier run left: counts it, removes torn entries, leaves other files alone, prunes to a smaller limit", async () => {
    const dir = join(root, "d");
    const first = await RejectArchive.open(dir, { ...options, interval_ms: 0 }, identity, log);
    const t = Date.parse("2026-11-24T08:00:00.000Z");
    for (let k = 0; k < 4; k++) await first.save(failing("cam_a", k, t + k));
    const { bytes, entries: n } = first.stats();
    const day = join(dir, "cam_a", "2026-11-24");
    writeFileSync(join(day, `cam_a-${t + 9}-9.jpg`), "torn: no json, as after a crash mid-write");
    writeFileSync(join(day, "notes.txt"), "an operator's file");
    const again = await RejectArchive.open(dir, options, identity, log);
    assert.deepEqual({ bytes: again.stats().bytes, entries: again.stats().entries }, { bytes, entries: n });
    assert.ok(!existsSync(join(day, `cam_a-${t + 9}-9.jpg`)), "the torn entry is removed");
    assert.ok(existsSync(join(day, "notes.txt")));
    const smaller = await RejectArchive.open(dir, { ...options, max_mb: (bytes / 2) / (1024 * 1024) }, identity, log);
    assert.equal(smaller.stats().entries, 2);
    assert.ok(!existsSync(join(day, `cam_a-${t}-0.json`)) && existsSync(join(day, `cam_a-${t + 3}-3.json`)), "the oldest went");
  });

  it("is listed (newest first) and served on the health server's /archive, and nothing else is", async () => {
    const dir = join(root, "http");
    const archive = await RejectArchive.open(dir, { ...options, interval_ms: 0 }, identity, log);
    const t = Date.parse("2026-11-24T10:00:00.000Z");
    for (let k = 0; k < 3; k++) await archive.save(failing("cam_a", k, t + k * 1000));
    writeFileSync(join(root, "secret.json"), "{}");
    let on: RejectArchive | null = archive;
    const server = new HealthServer({ bind: "127.0.0.1", port: 0, report: () => ({ ok: true, reasons: [] }), metrics: new MetricsRegistry(), archive: () => on, log });
    await server.start();
    const base = `http://127.0.0.1:${server.port}`;
    try {
      const listing = (await (await fetch(`${base}/archive?limit=2`)).json()) as { entries: Array<{ frame_id: string; image: string; mask: string; result: string; captured_at: string }> };
      assert.deepEqual(listing.entries.map((e) => e.frame_id), [`cam_a-${t + 2000}-2`, `cam_a-${t + 1000}-1`]);
      assert.equal(listing.entries[0].captured_at, "2026-11-24T10:00:02.000Z");
      const e = listing.entries[0];
      const img = await fetch(base + e.image);
      assert.equal(img.headers.get("content-type"), "image/jpeg");
      assert.deepEqual(Buffer.from(await img.arrayBuffer()), readFileSync(join(dir, "cam_a", "2026-11-24", `${e.frame_id}.jpg`)));
      assert.equal((await fetch(base + e.mask)).headers.get("content-type"), "image/png");
      assert.equal(((await (await fetch(base + e.result)).json()) as { frame_id: string }).frame_id, e.frame_id);
      assert.equal(((await (await fetch(`${base}/archive`)).json()) as { entries: unknown[] }).entries.length, 3);
      for (const bad of ["0", "-1", "x", "1001"]) assert.equal((await fetch(`${base}/archive?limit=${bad}`)).status, 400, bad);
      // Only the archive's own entries: no other file, however the path is spelt.
      for (const path of ["/archive/cam_a/2026-11-24/nothing.jpg", "/archive/%2e%2e/secret.json", "/archive/..%2f..%2fsecret.json", "/archive/%E0%A4%A", `/archive/cam_a/2026-11-24/${e.frame_id}.txt`]) {
        assert.ok([400, 404].includes((await rawGet(server.port, path)).status), path);
      }
      on = null;
      assert.equal((await fetch(`${base}/archive`)).status, 404);
    } finally {
      await server.stop();
    }
  });

  it("counts a write that fails and never throws it into the pipeline", async () => {
    const dir = join(root, "e");
    const archive = await RejectArchive.open(dir, { ...options, interval_ms: 0 }, identity, log);
    writeFileSync(join(dir, "cam_a"), "a file where the camera's folder should be");
    assert.equal(await archive.save(failing("cam_a", 0, Date.now())), false);
    assert.equal(archive.stats().errors, 1);
    assert.match(text(), /archiving a failed part failed; results are unaffected/);
    assert.equal(await archive.save(failing("cam_b", 0, Date.now())), true, "other cameras go on");
    mkdirSync(join(root, "f-parent"));
    writeFileSync(join(root, "f-parent", "archive"), "not a folder");
    await assert.rejects(RejectArchive.open(join(root, "f-parent", "archive"), options, identity, log), /EEXIST|ENOTDIR/);
  });
});
