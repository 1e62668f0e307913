// Runs an ONNX model under onnxruntime-node (the daemon's runtime) on inputs that Python wrote,
// for training/quantize.py: Python on these machines has no onnxruntime.
// usage: node training/ort_tensors.mjs JOB.json
//   JOB = { model, input: { name, file, dims: [N, C, H, W] }, batch, threads,
//           mode: "ranges" | "run", outputs: [names], out_dir }
//   ranges: prints {name: [min, max]} of each named output over all batches.
//   run:    writes each named output, batches concatenated, as raw float32 to out_dir/<i>.bin
//           and prints {name: {file, dims}}.
// The input file is raw little-endian float32 in C order.
import { createRequire } from "node:module";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const require = createRequire(join(process.cwd(), "package.json"));
const ort = require("onnxruntime-node");
const job = JSON.parse(readFileSync(process.argv[2], "utf8"));
const [n, ...rest] = job.input.dims;
const per = rest.reduce((a, b) => a * b, 1);
const raw = readFileSync(job.input.file);
const x = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
if (x.length !== n * per) throw new Error(`${job.input.file} holds ${x.length} values, dims say ${n * per}`);

const sess = await ort.InferenceSession.create(job.model, {
  executionProviders: ["cpu"], graphOptimizationLevel: "all",
  intraOpNumThreads: job.threads ?? 2, interOpNumThreads: 1 });
const names = job.outputs ?? sess.outputNames;
const ranges = Object.fromEntries(names.map((k) => [k, [Infinity, -Infinity]]));
const chunks = Object.fromEntries(names.map((k) => [k, []]));
const dims = {};
for (let i = 0; i < n; i += job.batch) {
  const b = Math.min(job.batch, n - i);
  const feed = { [job.input.name]: new ort.Tensor("float32", x.subarray(i * per, (i + b) * per), [b, ...rest]) };
  // All outputs, then pick: onnxruntime-node 1.23 returns a subset of fetches under the wrong
  // names (onnxruntime issue #26865, fixed upstream by PR #26939).
  const out = await sess.run(feed);
  for (const k of names) {
    const t = out[k];
    if (job.mode === "ranges") {
      const r = ranges[k];
      for (const v of t.data) { if (v < r[0]) r[0] = v; if (v > r[1]) r[1] = v; }
    } else {
      chunks[k].push(Buffer.from(new Float32Array(t.data).buffer));
      dims[k] = dims[k] ? [dims[k][0] + t.dims[0], ...t.dims.slice(1)] : [...t.dims];
    }
  }
}
if (job.mode === "ranges") console.log(JSON.stringify(ranges));
else {
  const res = {};
  names.forEach((k, i) => {
    const file = join(job.out_dir, `${i}.bin`);
    writeFileSync(file, Buffer.concat(chunks[k]));
    res[k] = { file, dims: dims[k] };
  });
  console.log(JSON.stringify(res));
}
