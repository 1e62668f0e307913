import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { Ajv } from "ajv";
import addFormats from "ajv-formats";
import { connect, type MqttClient } from "mqtt";
import sharp from "sharp";
import { freePort, startMosquitto, type RunningMosquitto } from "../helpers/mosquitto.js";
import { startDaemon, type RunningDaemon } from "../helpers/daemon.js";

const demoDir = resolve("demo/images");
const demoImages = readdirSync(demoDir).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort();
/** The truth is in each demo image's name: NNN_<type>_<original>.jpg, type 'good' for a good part. */
const truth = demoImages.map((f) => (f.split("_")[1] === "good" ? "pass" : "fail"));

const ajv = new Ajv({ allErrors: true, strict: true });
addFormats.default(ajv);
const validateResult = ajv.compile(JSON.parse(readFileSync("schemas/result.schema.json", "utf8")));
const validateStatus = ajv.compile(JSON.parse(readFileSync("schemas/status.schema.json", "utf8")));

interface Received {
  topic: string;
  payload: Buffer;
  retain: boolean;
  /** MQTT 5 user properties. */
  user?: Record<string, string | string[]>;
}

describe("the daemon end to end on real parts", { timeout: 180_000 }, () => {
  let broker: RunningMosquitto;
  let daemon: RunningDaemon;
  let sub: MqttClient;
  let healthPort: number;
  const got: Received[] = [];
  const device = "itest";
  const thumbWidth = 200;

  before(async () => {
    broker = await startMosquitto();
    sub = connect(broker.url, { clientId: "plc-gateway", clean: true, protocolVersion: 5 });
    sub.on("message", (topic, payload, packet) => got.push({ topic, payload, retain: packet.retain, user: packet.properties?.userProperties }));
    await new Promise<void>((r) => sub.on("connect", () => sub.subscribe(`linewatch/${device}/#`, { qos: 1 }, () => r())));
    healthPort = await freePort();
    daemon = startDaemon({
      device_id: device,
      cameras: [
        { id: "parts", kind: "images", path: demoDir, loop: true, fps: 4 },
        { id: "synthetic", kind: "test", width: 320, height: 240, fps: 2, tiling: { mode: "grid", tile: 128, overlap: 16 } },
      ],
      mqtt: { url: broker.url, keepalive_s: 5, thumbnail: { width: thumbWidth, interval_ms: 0 } },
      health: { port: healthPort },
      model: { providers: [{ kind: "cpu" }], threads: 1 },
      archive: { interval_ms: 0, pass_interval_ms: 60_000 },
    // Started as a user starts it from a shell: the CLI sizes the libuv pool itself (make and the
    // systemd unit set UV_THREADPOOL_SIZE; a plain `linewatch run` does not).
    }, { UV_THREADPOOL_SIZE: undefined });
    // Every demo image once, plus a few synthetic frames.
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      const results = got.filter((m) => m.topic.endsWith("/parts/result"));
      if (results.length >= demoImages.length && got.some((m) => m.topic.endsWith("/synthetic/result"))) break;
      await new Promise((r) => setTimeout(r, 250));
    }
  });

  after(async () => {
    daemon?.proc.kill("SIGKILL");
    sub?.end(true);
    await broker?.stop();
  });

  it("publishes a schema-valid result for every frame, in order, with verdicts matching the known images", () => {
    const results = got.filter((m) => m.topic === `linewatch/${device}/parts/result`).map((m) => JSON.parse(m.payload.toString()));
    assert.ok(results.length >= demoImages.length, `only ${results.length} results of ${demoImages.length} images; log: ${JSON.stringify(daemon.logs.slice(-5))}`);
    for (const r of results) assert.ok(validateResult(r), JSON.stringify(validateResult.errors));
    const first = results.slice(0, demoImages.length);
    // No frame lost: sequence numbers are 0..n-1 in order.
    assert.deepEqual(first.map((r) => r.seq), demoImages.map((_, i) => i));
    const wrong = first.filter((r, i) => r.verdict !== truth[i]).map((r) => `${demoImages[r.seq]}: ${r.verdict} (score ${r.score.toFixed(2)}, threshold ${r.threshold.toFixed(2)})`);
    assert.deepEqual(wrong, [], "verdicts that disagree with the images' truth");
    for (const r of first.filter((x) => x.verdict === "fail")) assert.ok(r.regions.length > 0, `${r.frame_id} failed without a region`);
  });

  it("publishes results from the second camera too", () => {
    const synth = got.filter((m) => m.topic === `linewatch/${device}/synthetic/result`).map((m) => JSON.parse(m.payload.toString()) as { roi: unknown });
    assert.ok(synth.length > 0);
    for (const r of synth) {
      assert.ok(validateResult(r), JSON.stringify(validateResult.errors));
      assert.deepEqual(r.roi, { x: 0, y: 0, width: 320, height: 240 });
    }
  });

  it("publishes thumbnails that decode as JPEG of the configured width", async () => {
    const thumbs = got.filter((m) => m.topic === `linewatch/${device}/parts/thumbnail`);
    assert.ok(thumbs.length > 0, "no thumbnail");
    const meta = await sharp(thumbs[0].payload).metadata();
    assert.equal(meta.format, "jpeg");
    assert.equal(meta.width, thumbWidth);
  });

  it("names each thumbnail's frame (EXIF and MQTT 5 user properties), so a gateway pairs it with its result", async () => {
    const results = new Map(
      got.filter((m) => m.topic.endsWith("/result")).map((m) => JSON.parse(m.payload.toString()) as { frame_id: string; verdict: string; camera: string }).map((r) => [r.frame_id, r]),
    );
    const thumbs = got.filter((m) => m.topic.endsWith("/thumbnail"));
    assert.ok(thumbs.some((t) => t.user?.verdict === "fail"), "a failed part's thumbnail");
    for (const t of thumbs) {
      const exif = (await sharp(t.payload).metadata()).exif?.toString("latin1") ?? "";
      const id = typeof t.user?.frame_id === "string" ? t.user.frame_id : "";
      assert.ok(id && exif.includes(`${id}\0`), `${t.topic}: user properties ${JSON.stringify(t.user)}, EXIF names the same frame`);
      const r = results.get(id);
      // A result can still be in flight when the test stops listening; every other one is here.
      if (r) {
        assert.equal(t.user?.verdict, r.verdict, id);
        assert.equal(t.topic, `linewatch/${device}/${r.camera}/thumbnail`);
      }
    }
    assert.ok(thumbs.filter((t) => results.has(String(t.user?.frame_id))).length >= thumbs.length - 2, "thumbnails pair with results");
  });

  it("archives every failed part: the ROI, the predicted mask and the result as published", async () => {
    const fails = got
      .filter((m) => m.topic === `linewatch/${device}/parts/result`)
      .map((m) => JSON.parse(m.payload.toString()) as { frame_id: string; verdict: string; captured_at: string; roi: { width: number; height: number }; regions: unknown[] })
      .filter((r) => r.verdict === "fail");
    assert.ok(fails.length > 0);
    // The newest may still be being written when the test looks.
    for (const r of fails.slice(0, -1)) {
      const base = resolve(daemon.dir, "state", "archive", "parts", r.captured_at.slice(0, 10), r.frame_id);
      assert.deepEqual(JSON.parse(readFileSync(`${base}.json`, "utf8")), r, `${r.frame_id}: the archived result is the published one`);
      const jpg = await sharp(`${base}.jpg`).metadata();
      const png = await sharp(`${base}.mask.png`).metadata();
      assert.deepEqual([jpg.format, jpg.width, jpg.height], ["jpeg", r.roi.width, r.roi.height]);
      assert.deepEqual([png.format, png.width, png.height, png.channels], ["png", r.roi.width, r.roi.height, 1]);
      const { data } = await sharp(`${base}.mask.png`).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
      assert.ok(data.some((v) => v === 255), `${r.frame_id}: a failed part with ${r.regions.length} region(s) has a defect in its mask`);
    }
    const passes = got.filter((m) => m.topic.endsWith("/parts/result")).map((m) => JSON.parse(m.payload.toString()) as { frame_id: string; verdict: string; captured_at: string });
    const day = resolve(daemon.dir, "state", "archive", "parts");
    const archived = new Set(readdirSync(day).flatMap((d) => readdirSync(resolve(day, d))).filter((f) => f.endsWith(".json")).map((f) => f.slice(0, -5)));
    // A sample of passing frames, one per camera per archive.pass_interval_ms (60 s here).
    const sampled = passes.filter((r) => r.verdict === "pass" && archived.has(r.frame_id)).map((r) => Date.parse(r.captured_at));
    assert.ok(sampled.length >= 1, "the camera's first passing frame is archived");
    assert.ok(sampled.every((t, i) => i === 0 || t - sampled[i - 1] >= 60_000), `passing frames archived at most once a minute: ${sampled.join(", ")}`);
    const m = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
    assert.match(m, /^linewatch_archive_up 1$/m);
    // The same entries on the health port, newest first, their files served.
    const listed = ((await (await fetch(`http://127.0.0.1:${healthPort}/archive?limit=1000`)).json()) as { entries: Array<{ frame_id: string; image: string; verdict: string; score: number }> }).entries;
    assert.ok(fails.slice(0, -1).every((r) => listed.some((e) => e.frame_id === r.frame_id && e.verdict === "fail")), "every archived fail is listed, as a fail");
    const published = new Map(passes.map((r) => [r.frame_id, r.verdict]));
    const known = listed.filter((e) => published.has(e.frame_id));
    assert.ok(known.some((e) => e.verdict === "pass"), "the pass sample is listed");
    assert.ok(known.every((e) => e.verdict === published.get(e.frame_id)), "each entry is listed with the verdict published for it");
    const scores = new Map(got.filter((m) => m.topic.endsWith("/parts/result")).map((m) => JSON.parse(m.payload.toString()) as { frame_id: string; score: number }).map((r) => [r.frame_id, r.score]));
    assert.ok(known.every((e) => e.score === scores.get(e.frame_id)), "and with the score published for it");
    const img = await fetch(`http://127.0.0.1:${healthPort}${listed[listed.length - 1].image}`);
    assert.equal((await sharp(Buffer.from(await img.arrayBuffer())).metadata()).format, "jpeg");
    assert.ok(Number(/^linewatch_archive_saved_total (\d+)$/m.exec(m)?.[1]) >= fails.length - 1);
  });

  it("shows what a camera sees, with its ROI and tiles, on the health port", async () => {
    const res = await fetch(`http://127.0.0.1:${healthPort}/cameras/synthetic/view.png`);
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(res.headers.get("x-linewatch-frame"), "320x240");
    assert.equal(res.headers.get("x-linewatch-roi"), "0,0,320,240");
    // 320 x 240 in 128 px tiles overlapping >= 16 (starts rounded to 4 px): 3 x 3 (src/pipeline/tile.ts axisStarts).
    assert.equal(res.headers.get("x-linewatch-tiles"), "9");
    const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ["png", 320, 240]);
    const jpg = await fetch(`http://127.0.0.1:${healthPort}/cameras/parts/view.jpg`);
    assert.equal(jpg.status, 200);
    assert.equal((await sharp(Buffer.from(await jpg.arrayBuffer())).metadata()).format, "jpeg");
    assert.equal((await fetch(`http://127.0.0.1:${healthPort}/cameras/nope/view.png`)).status, 404);
  });

  it("sizes its libuv pool itself (32 threads), before anything starts the pool", () => {
    // Each camera's waiting pull and bus poll hold a pool thread; with libuv's default of 4, two
    // cameras left file writes and thumbnails queued for 100-500 ms (measured before the fix:
    // archive writes of 450-600 ms). libuv starts all its threads at once; Node names them "node",
    // as it does its main thread and V8's helpers, so a pool of 4 shows about 13 such threads.
    const comm = readdirSync(`/proc/${daemon.proc.pid}/task`).map((t) => readFileSync(`/proc/${daemon.proc.pid}/task/${t}/comm`, "utf8").trim());
    const named = comm.filter((c) => c === "node").length;
    assert.ok(named >= 32, `${named} threads named node: ${JSON.stringify(comm)}`);
  });

  it("answers /healthz with 200 and /metrics with the counters", async () => {
    const h = await fetch(`http://127.0.0.1:${healthPort}/healthz`);
    const body = await h.text();
    assert.equal(h.status, 200, body);
    // Both cameras keep the model running, far from saturation.
    const busy = (JSON.parse(body) as { inference_busy: number }).inference_busy;
    assert.ok(busy > 0 && busy < 1, `inference_busy ${busy}`);
    const m = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
    const gauge = Number(/^linewatch_inference_busy_ratio (\S+)$/m.exec(m)?.[1]);
    assert.ok(gauge > 0 && gauge < 1, `linewatch_inference_busy_ratio ${gauge}`);
    for (const name of ["linewatch_frames_decided_total", "linewatch_inference_seconds_bucket", "linewatch_mqtt_connected", "linewatch_camera_fps", "linewatch_frames_dropped_total"]) assert.match(m, new RegExp(`^${name}`, "m"));
    assert.match(m, /linewatch_verdicts_total\{camera="parts",verdict="fail"\} [1-9]/);
    // Frames go back to capture's pool after their result and thumbnail: a fixed-size camera
    // allocates a few buffers, not one a frame.
    const value = (name: string) => Number(new RegExp(`^${name}\\{camera="synthetic"\\} (\\d+)`, "m").exec(m)?.[1] ?? NaN);
    const frames = value("linewatch_camera_frames_total");
    const allocated = value("linewatch_frame_buffers_allocated_total");
    assert.ok(frames >= 8 && allocated <= 4, `synthetic: ${allocated} buffers allocated for ${frames} frames`);
  });

  it("keeps a retained online status that the last will turns offline on SIGKILL", async () => {
    const statusTopic = `linewatch/${device}/status`;
    const check = connect(broker.url, { clientId: "status-check" });
    const first = await new Promise<Record<string, unknown>>((r) => {
      check.on("message", (t, p, packet) => {
        if (t === statusTopic && packet.retain) r(JSON.parse(p.toString()));
      });
      check.on("connect", () => check.subscribe(statusTopic, { qos: 1 }));
    });
    assert.ok(validateStatus(first), JSON.stringify(validateStatus.errors));
    assert.equal(first.state, "online");
    const offline = new Promise<Record<string, unknown>>((r) =>
      check.on("message", (t, p) => {
        const s = JSON.parse(p.toString());
        if (t === statusTopic && s.state === "offline") r(s);
      }),
    );
    daemon.proc.kill("SIGKILL");
    const s = await offline;
    assert.ok(validateStatus(s), JSON.stringify(validateStatus.errors));
    check.end(true);
  });
});
