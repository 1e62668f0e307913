import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { firstValueFrom, lastValueFrom, Subject, toArray } from "rxjs";
import { cameraSchema, type CameraConfig } from "../../src/config/camera.js";
import { defaultModelDir } from "../../src/config/load.js";
import { InferenceEngine, type BatchResult } from "../../src/pipeline/inferenceEngine.js";
import { InspectionPipeline, type Inferencer } from "../../src/pipeline/pipeline.js";
import { stitchKernel } from "../../src/pipeline/stitch.js";
import { createLogger } from "../../src/service/logger.js";
import type { Frame } from "../../src/types.js";

const log = createLogger("warn", new Writable({ write: (_c, _e, cb) => cb() }));
const cam = (id: string, tiling: CameraConfig["tiling"] = { mode: "resize" }): CameraConfig => cameraSchema.parse({ id, kind: "test", width: 64, height: 48, tiling });
const frame = (camera: string, seq: number, w = 64, h = 48): Frame => ({
  camera, seq, captured_at: Date.now(), captured_mono: performance.now(), width: w, height: h, format: "RGB",
  data: new Uint8Array(w * h * 3).map((_, i) => (i * 31 + seq) % 256),
});
const settings = { batch_max_tiles: 4, batch_max_wait_ms: 5, max_pending_frames: 2, load_notice_s: 60 };

describe("InspectionPipeline on the real model", { timeout: 120_000 }, () => {
  let engine: InferenceEngine;
  before(async () => {
    engine = await InferenceEngine.open({ dir: process.env.LINEWATCH_TEST_MODEL ?? defaultModelDir, providers: [{ kind: "cpu" }], workers: 2, threads: 1 }, log);
  });
  after(() => engine?.close());

  it("decides every frame of every camera, in order per camera, when inference keeps up", async () => {
    const p = new InspectionPipeline({ cameras: [cam("a"), cam("b", { mode: "grid", tile: 32, overlap: 8 })], settings, engine, log });
    const frames = new Subject<Frame>();
    const out = lastValueFrom(p.connect(frames).pipe(toArray()));
    for (let i = 0; i < 6; i++) {
      frames.next(frame("a", i));
      frames.next(frame("b", i));
      // Paced like a camera: the next frames come after these are decided.
      while (p.inflight > 0) await new Promise((r) => setTimeout(r, 2));
    }
    frames.complete();
    const decisions = await out;
    for (const c of ["a", "b"]) assert.deepEqual(decisions.filter((d) => d.camera === c).map((d) => d.seq), [0, 1, 2, 3, 4, 5]);
    const b = decisions.find((d) => d.camera === "b")!;
    assert.deepEqual([b.map.roi_width, b.map.roi_height], [64, 48], "map over the whole ROI");
    assert.equal(b.map.data.length, b.map.width * b.map.height);
    assert.equal(p.stats("a").dropped, 0);
    assert.equal(p.stats("b").decided, 6);
  });

  it("drops each camera's oldest waiting frames under a flood, and still decides what it keeps", async () => {
    const p = new InspectionPipeline({ cameras: [cam("a"), cam("b")], settings: { ...settings, batch_max_tiles: 1 }, engine, log });
    const frames = new Subject<Frame>();
    const out = lastValueFrom(p.connect(frames).pipe(toArray()));
    // 40 frames per camera at once: far faster than the model.
    for (let i = 0; i < 40; i++) {
      frames.next(frame("a", i));
      frames.next(frame("b", i));
    }
    frames.complete();
    const decisions = await out;
    for (const c of ["a", "b"]) {
      const s = p.stats(c);
      const seqs = decisions.filter((d) => d.camera === c).map((d) => d.seq);
      assert.equal(s.received, 40);
      assert.ok(s.dropped > 30, `${c}: only ${s.dropped} dropped`);
      assert.equal(seqs.length + s.dropped, 40, "every frame decided or counted as dropped");
      assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), "decisions stay in order");
      // The newest frames survive: what is decided last is the last frame sent.
      assert.equal(seqs.at(-1), 39);
    }
  });

  it("gives each frame's buffer back once: at a drop, a bad frame, a crop or a failed batch; a decided frame's goes on with its decision", async () => {
    const released = new Map<string, number>();
    const pooled = (f: Frame): Frame => ({ ...f, release: () => released.set(`${f.camera}/${f.seq}`, (released.get(`${f.camera}/${f.seq}`) ?? 0) + 1) });
    const roi = cameraSchema.parse({ id: "r", kind: "test", width: 64, height: 48, roi: { x: 8, y: 8, width: 32, height: 24 } });
    const p = new InspectionPipeline({ cameras: [cam("a"), roi], settings: { ...settings, batch_max_tiles: 1 }, engine, log });
    const frames = new Subject<Frame>();
    const out = lastValueFrom(p.connect(frames).pipe(toArray()));
    for (let i = 0; i < 20; i++) {
      frames.next(pooled(frame("a", i)));
      frames.next(pooled(frame("r", i)));
    }
    frames.next(pooled({ ...frame("a", 20), data: new Uint8Array(10) }));
    frames.complete();
    const decisions = await out;
    const decided = new Set(decisions.map((d) => `${d.camera}/${d.seq}`));
    assert.ok(p.stats("a").dropped > 10 && p.stats("a").bad_frames === 1);
    for (let i = 0; i <= 20; i++) {
      const key = `a/${i}`;
      assert.equal(released.get(key) ?? 0, decided.has(key) ? 0 : 1, `${key}: the pipeline gives back exactly the frames it does not hand on`);
    }
    // Cropped frames are copies: their source buffer went back at the crop, and no decision carries it.
    for (let i = 0; i < 20; i++) assert.equal(released.get(`r/${i}`), 1, `r/${i}`);
    for (const d of decisions) {
      assert.equal(d.release === undefined, d.camera === "r");
      d.release?.();
    }
    for (const d of decisions.filter((x) => x.camera === "a")) assert.equal(released.get(`a/${d.seq}`), 1);

    // A batch whose inference fails: its frames are not decided, and their buffers go back.
    const failing = { manifest: engine.manifest, run: () => Promise.reject(new Error("the worker died")) };
    const q = new InspectionPipeline({ cameras: [cam("f")], settings, engine: failing, log });
    const more = new Subject<Frame>();
    const none = lastValueFrom(q.connect(more).pipe(toArray()));
    for (let i = 0; i < 3; i++) more.next(pooled(frame("f", i)));
    more.complete();
    assert.deepEqual(await none, []);
    assert.deepEqual([0, 1, 2].map((i) => released.get(`f/${i}`)), [1, 1, 1]);
    assert.equal(stitchKernel?.openGrids, 0, "the failed frames' stitch grids were given back");
  });

  it("shares a frame's tiles among idle workers at once instead of waiting to fill a batch", async () => {
    // 64x48 in 32 px tiles with 8 px overlap: 3 x 2 = 6 tiles, a batch of up to 8.
    // The real engine, each reply held until a second batch has been sent (or 2 s have passed):
    // with both workers kept busy the split cannot depend on whether the first batch comes back
    // before the last tiles are sampled (then the rest is shared again, e.g. 3 + 2 + 1).
    const heldUntilSecond = (): Inferencer => {
      let sent = 0;
      let open = () => {};
      const second = new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 2_000);
        open = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      const hold = async (reply: Promise<BatchResult>) => {
        if (++sent === 2) open();
        return (await Promise.all([reply, second]))[0];
      };
      return {
        manifest: engine.manifest,
        workers: engine.workers,
        run: (tiles) => hold(engine.run(tiles)),
        inputBuffer: (n) => engine.inputBuffer(n),
        runPacked: (input, tiles) => hold(engine.runPacked(input, tiles)),
      };
    };
    const once = async (earlySend: boolean, waitMs: number) => {
      const sizes: number[] = [];
      const p = new InspectionPipeline({ cameras: [cam("a", { mode: "grid", tile: 32, overlap: 8 })], settings: { ...settings, batch_max_tiles: 8, batch_max_wait_ms: waitMs }, engine: earlySend ? heldUntilSecond() : engine, log, earlySend, onBatch: (n) => sizes.push(n) });
      const frames = new Subject<Frame>();
      const t0 = performance.now();
      // The frames stay open: nothing but the pipeline's own rules sends the batch.
      const first = firstValueFrom(p.connect(frames));
      frames.next(frame("a", 0));
      await first;
      frames.complete();
      return { ms: performance.now() - t0, sizes: sizes.sort((x, y) => x - y) };
    };
    const early = await once(true, 20_000);
    assert.deepEqual(early.sizes, [3, 3], "two half batches, one for each idle worker");
    assert.ok(early.ms < 10_000, `decided in ${early.ms} ms, not after the 20 s wait`);
    const waited = await once(false, 500);
    assert.deepEqual(waited.sizes, [6], "early send off: one batch after the wait");
    assert.ok(waited.ms >= 490, `decided in ${waited.ms} ms, after the 500 ms wait`);
  });

  it("skips and counts a malformed frame without stopping", async () => {
    const p = new InspectionPipeline({ cameras: [cam("a", { mode: "resize" })], settings, engine, log });
    const frames = new Subject<Frame>();
    const out = lastValueFrom(p.connect(frames).pipe(toArray()));
    frames.next({ ...frame("a", 0), data: new Uint8Array(10) });
    frames.next({ ...frame("a", 1), width: 0, height: 0, data: new Uint8Array(0) });
    frames.next(frame("a", 2));
    frames.complete();
    const decisions = await out;
    assert.deepEqual(decisions.map((d) => d.seq), [2]);
    assert.equal(p.stats("a").bad_frames, 2);
  });
});
