import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import sharp from "sharp";
import { loadMask, readDataset } from "../../src/eval/dataset.js";
import { evaluate, type ImageResult } from "../../src/eval/metrics.js";
import { writeReport, type ReportMeta } from "../../src/eval/report.js";
import { runEval } from "../../src/eval/runEval.js";
import { compareWithBaseline, parseScoresCsv, scoresCsv } from "../../src/eval/scoresFile.js";
import { brightDetector } from "../helpers/brightDetector.js";

const close = (a: number, b: number, eps = 1e-9) => assert.ok(Math.abs(a - b) < eps, `${a} != ${b}`);
const thresholds = { image: 0.5, pixel: 0.5 };

/** A 2x2 result labelled per image only (no mask) unless a mask is given. */
function labelled(type: string, name: string, score: number, map = [0, 0, 0, 0], mask: number[] | null = null): ImageResult {
  return { type, name, path: "", score, map: Float32Array.from(map), defective: type !== "good", mask: mask === null ? null : Uint8Array.from(mask), width: 2, height: 2 };
}

// Three good images (g2 flags one pixel of four at the 0.5 pixel threshold), two cracks, one
// "defect" (archive-export's type for an unclassified defect).
const imageOnly = [
  labelled("good", "g1", 0.1),
  labelled("good", "g2", 0.4, [0.6, 0, 0, 0]),
  labelled("good", "g3", 0.2, [0.1, 0.1, 0.1, 0.1]),
  labelled("crack", "c1", 0.5, [0.9, 0.9, 0, 0]),
  labelled("crack", "c2", 0.3),
  labelled("defect", "d1", 0.15),
];

async function writeGray(path: string, w: number, h: number, fill: (x: number, y: number) => number): Promise<void> {
  const raw = Buffer.alloc(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw[y * w + x] = fill(x, y);
  await sharp(raw, { raw: { width: w, height: h, channels: 1 } }).toColourspace("b-w").png().toFile(path);
}

describe("image-labels-only datasets", () => {
  let root = "";

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "lw-eval-img-"));
    for (const d of ["test/good", "test/crack", "test/defect"]) await mkdir(join(root, d), { recursive: true });
    for (let i = 0; i < 3; i++) await writeGray(join(root, "test/good", `f${i}.png`), 24, 16, () => 128);
    // defect i: a bright 6x6 square whose brightness grows with i, so scores rank within the set
    for (const [type, n] of [["crack", 2], ["defect", 1]] as const) {
      for (let i = 0; i < n; i++) {
        await writeGray(join(root, `test/${type}`, `f${type}${i}.png`), 24, 16, (x, y) => (x >= 4 && x < 10 && y >= 4 && y < 10 ? 180 + 30 * i : 128));
      }
    }
  });

  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("reads a set without ground_truth/ as labelled per image: defective by folder, no mask paths", async () => {
    const ds = await readDataset(root);
    assert.equal(ds.pixel_truth, false);
    assert.deepEqual(ds.defect_types, ["crack", "defect"]);
    assert.deepEqual(
      ds.test.map((s) => [s.type, s.name, s.defective, s.mask_path]),
      [
        ["good", "f0", false, null],
        ["good", "f1", false, null],
        ["good", "f2", false, null],
        ["crack", "fcrack0", true, null],
        ["crack", "fcrack1", true, null],
        ["defect", "fdefect0", true, null],
      ],
    );
    assert.equal(await loadMask(ds.test[3]), null);
  });

  it("gives image AUROC, image F1 and IoU normal, and NaN for every pixel metric", () => {
    const e = evaluate(imageOnly, thresholds, 2);
    const m = e.metrics;
    assert.equal(e.pixel_truth, false);
    // defect vs good pairs: c1 0.5 beats 3, c2 0.3 beats 0.1 and 0.2, d1 0.15 beats 0.1 -> 6/9
    close(m.image_auroc, 6 / 9);
    assert.ok(m.image_auroc_ci95[0] <= m.image_auroc && m.image_auroc <= m.image_auroc_ci95[1]);
    // t=0.15: tp 3, fp 2 (0.4, 0.2), fn 0 -> F1 6/8, the best over all thresholds
    close(m.image_f1_max, 0.75);
    close(m.image_f1_threshold, 0.15);
    close(m.per_type.crack.image_auroc, 5 / 6);
    close(m.per_type.defect.image_auroc, 1 / 3);
    assert.equal(m.per_type.crack.images, 5);
    // g2 flags a pixel: 2 of 3 good images clean; normal-class IoU (1 + 3/4 + 1) / 3
    close(m.iou_normal, 2 / 3);
    close(m.iou_normal_pixel, 11 / 12);
    close(m.per_type.defect.iou_normal, 2 / 3);
    for (const set of [m, m.per_type.crack, m.per_type.defect]) {
      for (const v of [set.pixel_auroc, set.aupro, set.pixel_f1_max, set.pixel_f1_threshold, set.iou_anomalous, ...set.pixel_auroc_ci95, ...set.aupro_ci95]) {
        assert.ok(Number.isNaN(v), `pixel metric ${v} is not NaN`);
      }
    }
    assert.deepEqual(e.curves.pixel_roc, { x: [], y: [] });
    assert.deepEqual(e.curves.pro, { x: [], y: [] });
    assert.ok(e.curves.image_roc.x.length > 2);
    assert.equal(e.image_pro.size, 0);
    assert.equal(e.type_pro.size, 0);
  });

  it("gives the same image metrics as the same images with masks", () => {
    const masked = imageOnly.map((r) => (r.defective ? { ...r, mask: Uint8Array.from([1, 0, 0, 0]) } : r));
    const [a, b] = [evaluate(imageOnly, thresholds, 1), evaluate(masked, thresholds, 1)];
    assert.equal(b.pixel_truth, true);
    assert.ok(Number.isFinite(b.metrics.pixel_auroc));
    for (const k of ["image_auroc", "image_f1_max", "image_f1_threshold", "iou_normal", "iou_normal_pixel"] as const) assert.equal(a.metrics[k], b.metrics[k], k);
    assert.deepEqual(a.metrics.image_auroc_ci95, b.metrics.image_auroc_ci95);
  });

  it("rejects a mix of defective images with and without masks, and a good image with a mask", () => {
    const mixed = [...imageOnly.slice(0, 4), { ...imageOnly[4], mask: Uint8Array.from([1, 0, 0, 0]) }, imageOnly[5]];
    assert.throws(() => evaluate(mixed, thresholds, 1), (e: unknown) => e instanceof RangeError && /2 of 3 defective images have no truth mask \(crack\/c1, defect\/d1\)/.test(e.message));
    const goodWithMask = [{ ...imageOnly[0], mask: Uint8Array.from([0, 0, 0, 0]) }, ...imageOnly.slice(1)];
    assert.throws(() => evaluate(goodWithMask, thresholds, 1), /good\/g1: a good image with a truth mask/);
  });

  it("writes scores.csv with empty pro columns, reads it back and compares image AUROC only", () => {
    const e = evaluate(imageOnly, thresholds, 1);
    const text = scoresCsv(imageOnly, thresholds.image, e);
    assert.equal(text.split("\n")[4], "crack,c1,0.5,fail,,,");
    const rows = parseScoresCsv(text, "base.csv");
    assert.equal(rows.length, 6);
    assert.ok(rows.every((r) => r.pro === null && r.typeProArea === null));
    assert.deepEqual(rows[5], { type: "defect", name: "d1", score: 0.15, pro: null, typeProArea: null });
    // this run: d1 now scores 0.45, above every good image -> (3 + 2 + 3) / 9
    const mine = imageOnly.map((r) => (r.name === "d1" ? { ...r, score: 0.45 } : r));
    const c = compareWithBaseline(mine, evaluate(mine, thresholds, 1), rows, "base.csv");
    close(c.image_auroc.baseline, 6 / 9);
    close(c.image_auroc.difference, 2 / 9);
    assert.ok(c.image_auroc.share_not_better < 0.5);
    assert.deepEqual(Object.keys(c.per_type), ["crack", "defect"]);
    close(c.per_type.defect.difference, 2 / 3);
    close(c.per_type.crack.difference, 0);
    assert.equal(c.aupro, undefined);
    assert.equal(c.per_type_aupro, undefined);
    assert.ok(!("aupro" in JSON.parse(JSON.stringify(c))));
  });

  it("compares image AUROC but not AUPRO between an image-labelled run and a pixel-labelled baseline", () => {
    const masked = imageOnly.map((r) => (r.defective ? { ...r, mask: Uint8Array.from([1, 0, 0, 0]) } : r));
    const maskedRows = parseScoresCsv(scoresCsv(masked, 0.5, evaluate(masked, thresholds, 1)), "pix.csv");
    assert.ok(maskedRows[3].pro !== null);
    const c = compareWithBaseline(imageOnly, evaluate(imageOnly, thresholds, 1), maskedRows, "pix.csv");
    assert.equal(c.image_auroc.difference, 0);
    assert.equal(c.aupro, undefined);
    // and the other way round: this run has masks, the baseline's file has no AUPRO parts
    const imageRows = parseScoresCsv(scoresCsv(imageOnly, 0.5, evaluate(imageOnly, thresholds, 1)), "img.csv");
    const d = compareWithBaseline(masked, evaluate(masked, thresholds, 1), imageRows, "img.csv");
    close(d.image_auroc.baseline, 6 / 9);
    assert.equal(d.aupro, undefined);
  });

  it("runs and writes every report file for an image-labelled set", async () => {
    const ds = await readDataset(root);
    const run = await runEval(ds, brightDetector, { thresholds, progress: null });
    assert.ok(run.results.every((r) => r.mask === null));
    assert.deepEqual(run.results.map((r) => r.defective), [false, false, false, true, true, true]);
    const meta: ReportMeta = { model: "models/test", dataset: root, shots: 0, seed: 0, thresholds };
    const out = join(root, "out");
    const files = await writeReport(out, run.evaluation, run.results, meta, { worst: 2 });
    const json = JSON.parse(await readFile(files.metrics_json, "utf8")) as Record<string, unknown>;
    assert.equal(json.pixel_truth, false);
    assert.equal(json.image_auroc, 1);
    assert.equal(json.iou_normal, 1);
    assert.equal(json.pixel_auroc, null);
    assert.equal(json.aupro, null);
    assert.deepEqual(json.aupro_ci95, [null, null]);
    const md = await readFile(files.report_md, "utf8");
    assert.match(md, /\| \*\*all\*\* \| 6 \| 1\.000 \| n\/a \| n\/a \|/);
    assert.match(md, /\*\*Image labels only\.\*\* .*\n.*pixel AUROC,\nAUPRO, pixel F1-max and IoU anomalous are not measured/);
    // (180 - 128) / 122 = 0.426 < image threshold 0.5: a miss, and no AUPRO part
    assert.match((await readFile(files.scores_csv, "utf8")).split("\n")[4], /^crack,fcrack0,0\.426\d*,pass,,,$/);
    const curves = await sharp(files.curves_png).metadata();
    assert.deepEqual([curves.format, curves.width, curves.height], ["png", 1260, 420]);
    // worst.png: header 28, section title 28, two good rows of 166, title 28 -> first defective row at y 416;
    // its truth cell starts at x 412: grey ("no mask"), where a good row's truth cell is black
    const { data, info } = await sharp(files.worst_png).raw().toBuffer({ resolveWithObject: true });
    const at = (x: number, y: number) => data[(y * info.width + x) * info.channels];
    assert.equal(at(432, 416 + 50), 128);
    assert.equal(at(432, 56 + 50), 0);

    const base = parseScoresCsv(await readFile(files.scores_csv, "utf8"), files.scores_csv);
    const baseline = compareWithBaseline(run.results, run.evaluation, base, files.scores_csv);
    const again = await writeReport(join(root, "out2"), run.evaluation, run.results, { ...meta, baseline });
    const md2 = await readFile(again.report_md, "utf8");
    assert.match(md2, /\| image AUROC, \*\*all\*\* \| 1\.000 \| 0\.000 \|/);
    assert.doesNotMatch(md2, /\| AUPRO, all/);
    assert.match(md2, /AUPRO not compared/);
  });
});
