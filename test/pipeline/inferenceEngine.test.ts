import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { defaultModelDir } from "../../src/config/load.js";
import { InferenceEngine, ModelError, workerPlan } from "../../src/pipeline/inferenceEngine.js";
import { INFERENCE_NICE } from "../../src/pipeline/inferPriority.js";
import { inspectImage } from "../../src/pipeline/inspect.js";
import { createLogger } from "../../src/service/logger.js";
import { Writable } from "node:stream";

/** The shipped default model, or another one named by LINEWATCH_TEST_MODEL. */
const modelDir = process.env.LINEWATCH_TEST_MODEL ?? defaultModelDir;
const lines: Record<string, unknown>[] = [];
const log = createLogger("info", new Writable({ write(c, _e, cb) { lines.push(JSON.parse(String(c))); cb(); } }));

/** A copy of the model folder with its files changed by `edit`. */
function brokenCopy(edit: (dir: string) => void): string {
  const dir = mkdtempSync(join(tmpdir(), "lw-model-"));
  copyFileSync(join(modelDir, "model.onnx"), join(dir, "model.onnx"));
  copyFileSync(join(modelDir, "model.json"), join(dir, "model.json"));
  edit(dir);
  return dir;
}
const open = (dir: string) => InferenceEngine.open({ dir, providers: [{ kind: "cpu" }], workers: 1, threads: 1 }, log);

describe("InferenceEngine on the real model", { timeout: 120_000 }, () => {
  let engine: InferenceEngine;
  before(async () => {
    // TensorRT and CUDA cannot load on a box without their libraries: logged, skipped, CPU used.
    engine = await InferenceEngine.open({ dir: modelDir, providers: [{ kind: "tensorrt", device_id: 0 }, { kind: "cuda", device_id: 0 }, { kind: "cpu" }], workers: 1, threads: 1 }, log);
  });
  after(() => engine?.close());

  it("falls back to the CPU when the GPU providers cannot load, saying so once each", () => {
    assert.equal(engine.provider, "cpu");
    const skipped = lines.filter((l) => l.msg === "execution provider unavailable, trying the next").map((l) => l.provider);
    assert.deepEqual(skipped, ["tensorrt", "cuda"]);
  });

  it("runs a batch and returns one calibrated map per tile, of the model's map size", async () => {
    const spec = engine.manifest.input;
    const size = spec.channels * spec.height * spec.width;
    const tiles = [0, 1, 2].map((i) => ({ frame_key: `c/${i}`, index: 0, count: 1, rect: { x: 0, y: 0, width: 10, height: 10 }, input: new Float32Array(size).fill(i * 0.1) }));
    const r = await engine.run(tiles);
    assert.equal(r.maps.length, 3);
    for (const m of r.maps) {
      assert.equal(m.map.length, m.map_width * m.map_height);
      assert.ok(m.map.every(Number.isFinite));
    }
    assert.deepEqual(r.maps.map((m) => m.frame_key), ["c/0", "c/1", "c/2"]);
  });

  it("runs inference at a lower priority than the main thread, which keeps nice 0", () => {
    // Field 19 of /proc/<pid>/task/<tid>/stat is the thread's nice value (after the "(comm)").
    const niceOf = (tid: string) => Number(readFileSync(`/proc/self/task/${tid}/stat`, "utf8").split(") ")[1].split(" ")[16]);
    const tids = readdirSync("/proc/self/task");
    assert.equal(niceOf(String(process.pid)), 0, "main thread");
    assert.ok(tids.some((t) => niceOf(t) === INFERENCE_NICE), `a thread at nice ${INFERENCE_NICE}: ${tids.map(niceOf)}`);
  });

  it("reads each output by its name whatever the model's output order", async () => {
    // onnxruntime-node 1.23 mislabels a subset of fetched outputs (onnxruntime issue #26865): a
    // model listing its outputs in another order must still give the same map.
    const dir = brokenCopy(() => {});
    const script = "import onnx,sys\nm=onnx.load(sys.argv[1])\no=list(m.graph.output)[::-1]\ndel m.graph.output[:]\nm.graph.output.extend(o)\nonnx.save(m,sys.argv[1])";
    execFileSync("/usr/bin/python3", ["-c", script, join(dir, "model.onnx")]);
    const reordered = await open(dir);
    try {
      const img = { width: 300, height: 200, format: "GRAY8" as const, data: new Uint8Array(300 * 200).map((_, i) => (i * 7) % 251) };
      const a = await inspectImage(engine, img, { tiling: { mode: "resize" }, batchMax: 1 });
      const b = await inspectImage(reordered, img, { tiling: { mode: "resize" }, batchMax: 1 });
      assert.deepEqual(b.map.data, a.map.data);
    } finally {
      await reordered.close();
    }
  });

  it("keeps the input buffers batches hand back, takes the smallest that fits, and lets go of those a minute unused", async () => {
    const bytes = (tiles: number) => tiles * engine.inputSize * 4;
    const clock = engine.clock;
    let now = clock() + 1e9;
    engine.clock = () => now;
    try {
      engine.inputBuffer(1); // lets go of what the tests before left, all older than a minute now
      assert.deepEqual(engine.spareBuffers, { count: 0, bytes: 0 });
      // Three batches out at once: three new buffers, all back in the pool when they return.
      const out = [engine.inputBuffer(4), engine.inputBuffer(4), engine.inputBuffer(2)];
      await Promise.all(out.map((b) => engine.runRaw(b, b.length / engine.inputSize)));
      assert.deepEqual(engine.spareBuffers, { count: 3, bytes: bytes(10) });
      const one = engine.inputBuffer(1);
      assert.equal(one.buffer.byteLength, bytes(2), "the smallest spare that fits");
      await engine.runRaw(one, 1);
      // Half a minute on, a batch of 3 takes one of the 4-tile buffers and hands it back.
      now += 30_000;
      const three = engine.inputBuffer(3);
      assert.equal(three.buffer.byteLength, bytes(4));
      await engine.runRaw(three, 3);
      assert.deepEqual(engine.spareBuffers, { count: 3, bytes: bytes(10) });
      // A minute after the first batches, only the buffer used since is kept.
      now += 31_000;
      const next = engine.inputBuffer(1);
      assert.equal(next.buffer.byteLength, bytes(4));
      assert.deepEqual(engine.spareBuffers, { count: 0, bytes: 0 });
      await engine.runRaw(next, 1);
      assert.deepEqual(engine.spareBuffers, { count: 1, bytes: bytes(4) });
      // Never more than the batches in flight and two more (one worker: 4), whatever comes back.
      const many = [engine.inputBuffer(4), ...Array.from({ length: 5 }, () => engine.inputBuffer(1))];
      await Promise.all(many.map((b) => engine.runRaw(b, b.length / engine.inputSize)));
      // They come back in order, so the four kept are the 1-tile ones: the 4-tile one, back first, went.
      assert.deepEqual(engine.spareBuffers, { count: 4, bytes: bytes(4) });
    } finally {
      engine.clock = clock;
    }
  });

  it("gives the same answer for the same image, alone or in a batch", async () => {
    const img = { width: 300, height: 200, format: "GRAY8" as const, data: new Uint8Array(300 * 200).map((_, i) => (i * 7) % 251) };
    const a = await inspectImage(engine, img, { tiling: { mode: "grid", tile: 128, overlap: 16 }, batchMax: 1 });
    const b = await inspectImage(engine, img, { tiling: { mode: "grid", tile: 128, overlap: 16 }, batchMax: 8 });
    assert.deepEqual([a.map.roi_width, a.map.roi_height], [300, 200]);
    let maxDiff = 0;
    for (let i = 0; i < a.map.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a.map.data[i] - b.map.data[i]));
    assert.ok(maxDiff < 1e-3, `batching changed the map by ${maxDiff}`);
  });
});

describe("bad models get a clear error", { timeout: 120_000 }, () => {
  it("a missing folder", async () => {
    await assert.rejects(open(join(tmpdir(), "no-such-model")), (e: Error) => e instanceof ModelError && /cannot read the model manifest/.test(e.message));
  });
  it("a truncated ONNX", async () => {
    const dir = brokenCopy((d) => {
      const buf = readFileSync(join(d, "model.onnx"));
      writeFileSync(join(d, "model.onnx"), buf.subarray(0, buf.length >> 1));
    });
    await assert.rejects(open(dir), (e: Error) => e instanceof ModelError && /no execution provider could load .*model\.onnx: cpu: /.test(e.message));
  });
  it("random bytes as ONNX", async () => {
    const dir = brokenCopy((d) => writeFileSync(join(d, "model.onnx"), Buffer.from("this is not a model")));
    await assert.rejects(open(dir), ModelError);
  });
  it("a manifest that disagrees with the ONNX", async () => {
    const dir = brokenCopy((d) => {
      const m = JSON.parse(readFileSync(join(d, "model.json"), "utf8"));
      m.input.name = "pixels";
      m.input.width = m.input.width + 1;
      m.outputs.map = "heat";
      writeFileSync(join(d, "model.json"), JSON.stringify(m));
    });
    await assert.rejects(open(dir), (e: Error) => e instanceof ModelError && /disagrees with its manifest: input 'pixels' not in the ONNX.*output 'heat' not in the ONNX/.test(e.message));
  });
  it("a manifest that is not valid", async () => {
    const dir = brokenCopy((d) => writeFileSync(join(d, "model.json"), JSON.stringify({ format: "linewatch-model/1", name: "x" })));
    await assert.rejects(open(dir), (e: Error) => e instanceof ModelError && /is not a valid manifest: version: Required/.test(e.message));
  });
});

describe("inference workers", { timeout: 120_000 }, () => {
  it("plans one single-threaded worker per core on the CPU, up to 4, and one on a GPU", () => {
    const auto = { workers: 0, threads: 0 };
    assert.deepEqual(workerPlan(auto, "cpu", 2), { workers: 2, threads: 1 });
    assert.deepEqual(workerPlan(auto, "cpu", 1), { workers: 1, threads: 1 });
    assert.deepEqual(workerPlan(auto, "cpu", 6), { workers: 4, threads: 1 });
    assert.deepEqual(workerPlan(auto, "cpu", 16), { workers: 4, threads: 4 });
    assert.deepEqual(workerPlan(auto, "cuda", 8), { workers: 1, threads: 8 });
    assert.deepEqual(workerPlan({ workers: 3, threads: 0 }, "cpu", 8), { workers: 3, threads: 2 });
    assert.deepEqual(workerPlan({ workers: 0, threads: 2 }, "cpu", 2), { workers: 2, threads: 2 });
    assert.deepEqual(workerPlan({ workers: 2, threads: 0 }, "tensorrt", 2), { workers: 2, threads: 1 });
  });

  it("spreads batches over its workers, each giving the same maps, feature banks included", async () => {
    const engine = await InferenceEngine.open({ dir: modelDir, providers: [{ kind: "cpu" }], workers: 2, threads: 1 }, log);
    try {
      assert.equal(engine.workers, 2);
      assert.ok(lines.some((l) => l.msg === "model loaded" && l.workers === 2 && l.threads === 1), "the log says how it runs");
      const spec = engine.manifest.input;
      const size = spec.channels * spec.height * spec.width;
      const input = new Float32Array(size).map((_, i) => Math.sin(i * 0.01));
      const runAll = (opts: { banks?: Int32Array } = {}) =>
        Promise.all(
          [0, 1, 2, 3].map(() => {
            const buf = engine.inputBuffer(1);
            buf.set(input);
            return engine.runRaw(buf, 1, opts);
          }),
        );
      const plain = await runAll();
      assert.equal(new Set(plain.map((r) => r.worker)).size, 2, `batches ran on threads ${plain.map((r) => r.worker)}`);
      for (const r of plain) assert.deepEqual(r.maps, plain[0].maps);

      // A bank every patch is far from: fused maps change, the same way in both workers.
      const f = await engine.features([{ frame_key: "k/0", index: 0, count: 1, rect: { x: 0, y: 0, width: 1, height: 1 }, input }]);
      const dim = f.dims[0];
      const bank = { features: new Float32Array(16 * dim).fill(5), dim, count: 16, calibration: { offset: 0, scale: 0.01 }, weight: 1 };
      const owner = {};
      const id = engine.bankFor(owner, bank);
      const fused = await runAll({ banks: Int32Array.of(id) });
      assert.equal(new Set(fused.map((r) => r.worker)).size, 2);
      for (const r of fused) assert.deepEqual(r.maps, fused[0].maps);
      assert.notDeepEqual(fused[0].maps, plain[0].maps, "the bank reached the workers");
      engine.releaseBank(owner);
    } finally {
      await engine.close();
    }
  });
});
