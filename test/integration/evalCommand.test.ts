import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import sharp from "sharp";
import { cliPath } from "../helpers/daemon.js";
import type { OperatingPoints } from "../../src/eval/operatingPoints.js";

// `linewatch eval` with the real model: intervals in the report, scores.csv, and --baseline, as a
// model maintainer runs it to decide whether a new model is better than the shipped one.
const root = mkdtempSync(join(tmpdir(), "lw-evalcmd-"));
const ds = join(root, "ds");

function evalCli(...args: string[]) {
  const r = spawnSync(process.execPath, [cliPath, "eval", "--model", resolve("models/magtile-student"), "--dataset", ds, ...args], {
    encoding: "utf8",
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("linewatch eval", { timeout: 300_000 }, () => {
  before(async () => {
    for (const d of ["train/good", "test/good", "test/dark", "ground_truth/dark"]) mkdirSync(join(ds, d), { recursive: true });
    const good = readdirSync(resolve("demo/images")).filter((n) => n.includes("_good_"));
    for (const [k, n] of good.entries()) {
      const src = resolve("demo/images", n);
      const { data, info } = await sharp(src).greyscale().raw().toBuffer({ resolveWithObject: true });
      const gray = { raw: { width: info.width, height: info.height, channels: 1 as const } };
      await sharp(data, gray).png().toFile(join(ds, k < 2 ? "train/good" : "test/good", `g${k}.png`));
      // the same part with a dark pit painted on, and its mask: a defect the model should find
      const pit = Buffer.from(data);
      const mask = Buffer.alloc(data.length);
      const s = 10 + 4 * k;
      const x0 = Math.round(info.width * (0.2 + 0.1 * (k % 5))), y0 = Math.round(info.height * 0.4);
      for (let y = y0; y < y0 + s; y++) for (let x = x0; x < x0 + s; x++) (pit[y * info.width + x] = 15), (mask[y * info.width + x] = 255);
      await sharp(pit, gray).png().toFile(join(ds, "test/dark", `d${k}.png`));
      await sharp(mask, gray).png().toFile(join(ds, "ground_truth/dark", `d${k}_mask.png`));
    }
  });

  after(() => rmSync(root, { recursive: true, force: true }));

  it("reports 95 % intervals and writes one scores.csv row per image; a run against itself differs by 0", () => {
    const out = join(root, "a");
    const r = evalCli("--out", out);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /95 %: image AUROC \d\.\d{4}-\d\.\d{4} {2}pixel AUROC \d\.\d{4}-\d\.\d{4} {2}AUPRO \d\.\d{4}-\d\.\d{4}/);
    const m = JSON.parse(readFileSync(join(out, "metrics.json"), "utf8")) as Record<string, number & number[]>;
    for (const [est, [lo, hi]] of [[m.image_auroc, m.image_auroc_ci95], [m.pixel_auroc, m.pixel_auroc_ci95], [m.aupro, m.aupro_ci95]] as const) {
      assert.ok(lo <= est + 0.01 && est - 0.01 <= hi && lo <= hi, `${lo} <= ${est} <= ${hi}`);
    }
    assert.ok(m.aupro_ci95[0] < m.aupro_ci95[1], "pits of different sizes are found to different extents");
    const rows = readFileSync(join(out, "scores.csv"), "utf8").trim().split("\n");
    const images = readdirSync(join(ds, "test/good")).length + readdirSync(join(ds, "test/dark")).length;
    assert.equal(rows[0], "type,name,score,verdict,pro_area,regions,type_pro_area");
    assert.equal(rows.length, 1 + images);
    const dark = rows.filter((l) => l.startsWith("dark,"));
    // one defect type: its set is the whole set, so its per-type AUPRO part is the overall one
    assert.ok(dark.every((l) => /^dark,d\d+,[-\d.e]+,(pass|fail),([\d.e-]+),1,\2$/.test(l)), dark.join("\n"));
    assert.ok(rows.filter((l) => l.startsWith("good,")).every((l) => l.endsWith(",,,")));
    assert.match(readFileSync(join(out, "report.md"), "utf8"), /\| image AUROC 95 % \| pixel AUROC 95 % \| AUPRO 95 % \|/);
    // Operating points agree with the scores written: budget 0 sits just above the highest good score.
    const op = (m as unknown as { operating_points: OperatingPoints }).operating_points;
    const score = (type: string) => rows.filter((l) => l.startsWith(`${type},`)).map((l) => Number(l.split(",")[2]));
    const zero = op.budgets[0];
    assert.equal(zero.good_fail_budget, 0);
    assert.ok(score("good").every((v) => v < zero.threshold) && zero.threshold - Math.max(...score("good")) <= 1e-4 + 1e-9);
    assert.equal(zero.defects_caught.count, score("dark").filter((v) => v >= zero.threshold).length);
    assert.equal(op.shipped.good_failed.count, score("good").filter((v) => v >= op.shipped.threshold).length);
    assert.match(r.stdout, new RegExp(`shipped threshold ${op.shipped.threshold}: good failed [\\d.]+ %, defects caught [\\d.]+ % \\([\\d.]+-[\\d.]+ %\\)`));
    assert.match(r.stdout, new RegExp(`good failed at most 0 %: threshold ${zero.threshold}, defects caught`));
    const nGood = score("good").length;
    assert.match(r.stdout, new RegExp(`\\(${nGood} good image\\(s\\): a budget under 1/${nGood} = [\\d.]+ % lets no good part fail, so it reads as 0 %`));

    const again = evalCli("--json", "--baseline", join(out, "scores.csv"));
    assert.equal(again.code, 0, again.stderr);
    const b = (JSON.parse(again.stdout) as { baseline: Record<string, { difference: number; interval: number[]; baseline: number }> }).baseline;
    assert.deepEqual([b.image_auroc.difference, b.image_auroc.interval], [0, [0, 0]]);
    assert.deepEqual([b.aupro.difference, b.aupro.interval], [0, [0, 0]]);
    assert.ok(Math.abs(b.aupro.baseline - m.aupro) < 0.01, `grid AUPRO ${b.aupro.baseline} against exact ${m.aupro}`);
    const perType = (JSON.parse(again.stdout) as { baseline: { per_type_aupro: Record<string, { difference: number; interval: number[]; baseline: number }> } }).baseline.per_type_aupro;
    assert.deepEqual([perType.dark.difference, perType.dark.interval, perType.dark.baseline], [0, [0, 0], b.aupro.baseline]);
    const catches = (JSON.parse(again.stdout) as { baseline: { catch_at_budget: { budget: number; difference: number; interval: number[]; baseline: number }[] } }).baseline.catch_at_budget;
    assert.deepEqual(catches.map((c) => c.budget), [0, 0.005, 0.01, 0.02, 0.05, 0.1]);
    for (const c of catches) assert.deepEqual([c.difference, c.interval], [0, [0, 0]], `budget ${c.budget}`);
    assert.equal(catches[0].baseline, op.budgets[0].defects_caught.rate, "the baseline's catch at 0 % is the operating point's");
  });

  it("gives operating points for the budgets asked (--budgets, percent), and refuses a budget that is no share", () => {
    const r = evalCli("--json", "--budgets", "0.25, 50");
    assert.equal(r.code, 0, r.stderr);
    const op = (JSON.parse(r.stdout) as { operating_points: OperatingPoints }).operating_points;
    assert.deepEqual(op.budgets.map((p) => p.good_fail_budget), [0.0025, 0.5]);
    assert.ok(op.budgets[1].good_failed.rate <= 0.5 && op.budgets[1].threshold <= op.budgets[0].threshold);
    for (const bad of ["", "abc", "100", "-1", "1,,2"]) {
      const no = evalCli(`--budgets=${bad}`);
      assert.equal(no.code, 2, `--budgets '${bad}': ${no.stderr}`);
      assert.match(no.stderr, /--budgets takes percentages of good parts failed/);
    }
  });

  it("refuses a baseline it cannot read, or one of other images, saying which", () => {
    const good = readFileSync(join(root, "a", "scores.csv"), "utf8");
    const bad = join(root, "bad.csv");
    writeFileSync(bad, "type,name\ngood,g2\n");
    let r = evalCli("--baseline", bad);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--baseline .*bad\.csv: first line must be 'type,name,score,verdict,pro_area,regions,type_pro_area'/);
    writeFileSync(bad, good.replace(/^(good,g2,)[^,]+/m, "$1high"));
    r = evalCli("--baseline", bad);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /line 2: want .*\(a finite score.*got .good,g2,high,/);
    writeFileSync(bad, good.split("\n").filter((l) => !l.startsWith("dark,d3,")).join("\n"));
    r = evalCli("--baseline", bad, "--out", join(root, "b"));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /scored other images than this run .*not in it: dark\/d3.*this run's metrics are given without it/);
    assert.match(r.stdout, /image AUROC \d\.\d{4} {2}pixel AUROC/, "the run's own metrics are not lost");
    assert.equal(readFileSync(join(root, "b", "scores.csv"), "utf8").trim().split("\n").length, good.trim().split("\n").length);
    r = evalCli("--baseline", join(root, "nowhere.csv"));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--baseline .*ENOENT/);
  });
});
