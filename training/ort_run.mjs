// Runs a model.onnx with onnxruntime-node (the daemon's runtime) on the self-test input
// that training/export.py recorded, so the toolkit checks the ONNX in the very runtime
// that will execute it (Python has no onnxruntime on these machines).
// usage: node training/ort_run.mjs MODEL_DIR   -> prints JSON {inputs, outputs, dims, stats}
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const require = createRequire(join(process.cwd(), "package.json"));
const ort = require("onnxruntime-node");
const dir = process.argv[2];
const man = JSON.parse(readFileSync(join(dir, "model.json"), "utf8"));
const { height: h, width: w } = man.input;

/** The pattern export.py's selftest uses: x[n,c,i,j] = sin(0.1 i + n + c) * cos(0.07 j). */
function pattern(n) {
  const x = new Float32Array(n * 3 * h * w);
  let k = 0;
  for (let b = 0; b < n; b++)
    for (let c = 0; c < 3; c++)
      for (let i = 0; i < h; i++)
        for (let j = 0; j < w; j++) x[k++] = Math.sin(0.1 * i + b + c) * Math.cos(0.07 * j);
  return x;
}

const sess = await ort.InferenceSession.create(join(dir, "model.onnx"));
const out = {};
for (const n of [1, 2]) {
  const res = await sess.run({ [man.input.name]: new ort.Tensor("float32", pattern(n), [n, 3, h, w]) });
  const m = res[man.outputs.map];
  const per = m.dims[2] * m.dims[3];
  const stats = [];
  for (let b = 0; b < n; b++) {
    const v = m.data.subarray(b * per, (b + 1) * per);
    let s = 0, mx = -Infinity;
    for (const a of v) { s += a; mx = Math.max(mx, a); }
    stats.push({ mean: s / per, max: mx });
  }
  out[`batch${n}`] = { dims: m.dims, stats };
}
console.log(JSON.stringify({ inputs: sess.inputNames, outputs: sess.outputNames, ...out }));
