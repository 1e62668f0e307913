// Tiles/s of model folders under onnxruntime-node (the daemon's runtime), CPU provider, batch N
// (default 1), the same thread count for each, interleaved rounds so that a busy machine hurts
// all alike.
// usage: node training/ort_bench.mjs [--threads N] [--runs N] [--batch N] DIR...
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const require = createRequire(join(process.cwd(), "package.json"));
const ort = require("onnxruntime-node");
const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(k) ? Number(args.splice(args.indexOf(k), 2)[1]) : d);
const threads = opt("--threads", 1);
const runs = opt("--runs", 20);
const batch = opt("--batch", 1);
const models = [];
for (const dir of args) {
  const man = JSON.parse(readFileSync(join(dir, "model.json"), "utf8"));
  const sess = await ort.InferenceSession.create(join(dir, "model.onnx"), {
    intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: "all" });
  const { height: h, width: w } = man.input;
  const x = new ort.Tensor("float32", new Float32Array(batch * 3 * h * w).map(() => Math.random()), [batch, 3, h, w]);
  await sess.run({ [man.input.name]: x }); // warm-up
  models.push({ dir, sess, feed: { [man.input.name]: x }, times: [] });
}
for (let r = 0; r < runs; r++) {
  for (const m of models) {
    const t = process.hrtime.bigint();
    await m.sess.run(m.feed);
    m.times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
}
const out = models.map(({ dir, times }) => {
  times.sort((a, b) => a - b);
  const med = times[Math.floor(times.length / 2)];
  return { model: dir, threads, batch, ms_median: +med.toFixed(2), tiles_per_s: +((1000 * batch) / med).toFixed(1) };
});
console.log(JSON.stringify(out, null, 1));
