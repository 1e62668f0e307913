import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import sharp from "sharp";
import { readDataset } from "../../src/eval/dataset.js";
import { ProgressReporter, formatDuration } from "../../src/eval/progress.js";
import { reportJson, writeReport, type ReportMeta } from "../../src/eval/report.js";
import { runEval } from "../../src/eval/runEval.js";
import { brightDetector } from "../helpers/brightDetector.js";

const W = 24;
const H = 16;

/** A square defect at (x0, y0), size 6 px. */
const inDefect = (x: number, y: number, x0: number, y0: number) => x >= x0 && x < x0 + 6 && y >= y0 && y < y0 + 6;

async function writeGray(path: string, fill: (x: number, y: number) => number): Promise<void> {
  const raw = Buffer.alloc(W * H);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) raw[y * W + x] = fill(x, y);
  await sharp(raw, { raw: { width: W, height: H, channels: 1 } }).toColourspace("b-w").png().toFile(path);
}

describe("runEval and writeReport", () => {
  let root = "";
  let out = "";
  const meta: ReportMeta = { model: "models/test", dataset: "tiny", shots: 2, seed: 1, thresholds: { image: 0.5, pixel: 0.5 } };

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "lw-eval-rep-"));
    out = join(root, "out");
    for (const d of ["train/good", "test/good", "test/crack", "test/fray", "ground_truth/crack", "ground_truth/fray"]) {
      await mkdir(join(root, d), { recursive: true });
    }
    for (let i = 0; i < 3; i++) await writeGray(join(root, "test/good", `g${i}.png`), () => 128);
    for (const [type, n] of [["crack", 2], ["fray", 2]] as const) {
      for (let i = 0; i < n; i++) {
        const x0 = 2 + 6 * i;
        await writeGray(join(root, `test/${type}`, `d${i}.png`), (x, y) => (inDefect(x, y, x0, 4) ? 250 : 128));
        await writeGray(join(root, `ground_truth/${type}`, `d${i}_mask.png`), (x, y) => (inDefect(x, y, x0, 4) ? 255 : 0));
      }
    }
  });

  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("evaluates a perfect detector and writes every report file", async () => {
    const ds = await readDataset(root);
    const lines: string[] = [];
    const run = await runEval(ds, brightDetector, { thresholds: meta.thresholds, progress: { write: (s: string) => lines.push(s) } });
    const m = run.evaluation.metrics;
    assert.equal(m.images, 7);
    assert.equal(m.image_auroc, 1);
    assert.equal(m.pixel_auroc, 1);
    assert.equal(m.aupro, 1);
    assert.equal(m.iou_normal, 1);
    assert.equal(m.iou_anomalous, 1);
    assert.deepEqual(Object.keys(m.per_type), ["crack", "fray"]);
    assert.ok(m.ms_per_image >= 0);
    assert.match(lines.at(-1) ?? "", /^eval 7\/7 images, .* images\/s, took \d+ s\n$/);

    const files = await writeReport(out, run.evaluation, run.results, meta, { worst: 2 });
    const json = JSON.parse(await readFile(files.metrics_json, "utf8")) as Record<string, unknown>;
    assert.equal(json.image_auroc, 1);
    assert.equal(json.shots, 2);
    assert.deepEqual(Object.keys(json.per_type as object), ["crack", "fray"]);
    assert.deepEqual(JSON.parse(JSON.stringify(reportJson(run.evaluation, meta))), json);
    const md = await readFile(files.report_md, "utf8");
    assert.match(md, /\| \*\*all\*\* \| 7 \| 1\.000 \| 1\.000 \| 1\.000 \|/);
    assert.match(md, /\| crack \+ good \| 5 \|/);
    assert.match(md, /shots: 2, seed: 1/);
    const curves = await sharp(files.curves_png).metadata();
    assert.deepEqual([curves.format, curves.width, curves.height], ["png", 1260, 420]);
    const worst = await sharp(files.worst_png).metadata();
    assert.equal(worst.format, "png");
    assert.ok((worst.height ?? 0) > 4 * 160, "two good and two defective rows");
    // the heat-map cell of the first defective row is not flat: the defect shows
    const { data, info } = await sharp(files.worst_png).raw().toBuffer({ resolveWithObject: true });
    assert.ok(data.length === info.width * info.height * info.channels);
  });

  it("writes NaN metrics as null", () => {
    const j = JSON.parse(JSON.stringify({ v: NaN })) as { v: unknown };
    assert.equal(j.v, null);
  });
});

describe("ProgressReporter", () => {
  it("reports done/total, images/s and ETA at most once per interval", () => {
    let t = 0;
    const lines: string[] = [];
    const p = new ProgressReporter(100, { sink: { write: (s: string) => lines.push(s) }, now: () => t, interval_ms: 1000 });
    t = 500;
    p.tick(10); // first tick always reports: 10 in 0.5 s
    t = 700;
    p.tick(10); // within the interval: silent
    t = 2000;
    p.tick(20); // 40 in 2 s -> 20 images/s, 60 left -> 3 s
    p.finish();
    p.finish();
    assert.deepEqual(lines, [
      "eval 10/100 images, 20.0 images/s, ETA 5 s\n",
      "eval 40/100 images, 20.0 images/s, ETA 3 s\n",
      "eval 40/100 images, 20.0 images/s, took 2 s\n",
    ]);
  });

  it("redraws in place on a terminal", () => {
    const chunks: string[] = [];
    const p = new ProgressReporter(2, { sink: { write: (s: string) => chunks.push(s), isTTY: true }, now: () => 0 });
    p.tick();
    p.finish();
    assert.ok(chunks[0].startsWith("\r\x1b[2K"));
    assert.equal(chunks.at(-1), "\n");
  });

  it("formats durations", () => {
    assert.equal(formatDuration(8_400), "8 s");
    assert.equal(formatDuration(200_000), "3 min 20 s");
    assert.equal(formatDuration(3_900_000), "1 h 05 min");
    assert.equal(formatDuration(NaN), "?");
  });
});
