import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ImageResult } from "../../src/eval/metrics.js";
import { compareWithBaseline, parseScoresCsv, ScoresFileError, scoresCsv } from "../../src/eval/scoresFile.js";

const result = (type: string, name: string, score: number): ImageResult => ({
  type,
  name,
  path: "",
  score,
  map: new Float32Array(1),
  defective: type !== "good",
  mask: type === "good" ? null : new Uint8Array(1),
  width: 1,
  height: 1,
});

describe("scores.csv", () => {
  const results = [result("good", "a", 0.2), result("good", "b,1", 0.9), result("crack", 'c"x', 1.5), result("crack", "d", 0.5)];
  const pro = {
    image_pro: new Map([[results[2], { area: 0.75, regions: 2 }], [results[3], { area: 0.25, regions: 1 }]]),
    type_pro: new Map([[results[2], { area: 0.5, regions: 2 }], [results[3], { area: 0.125, regions: 1 }]]),
  };

  it("writes a row per image with its verdict and AUPRO part, and reads it back (names quoted where needed)", () => {
    const text = scoresCsv(results, 1, pro);
    assert.equal(text.split("\n")[2], 'good,"b,1",0.9,pass,,,');
    assert.equal(text.split("\n")[3], 'crack,"c""x",1.5,fail,0.75,2,0.5');
    assert.deepEqual(parseScoresCsv(text, "f.csv"), [
      { type: "good", name: "a", score: 0.2, pro: null, typeProArea: null },
      { type: "good", name: "b,1", score: 0.9, pro: null, typeProArea: null },
      { type: "crack", name: 'c"x', score: 1.5, pro: { area: 0.75, regions: 2 }, typeProArea: 0.5 },
      { type: "crack", name: "d", score: 0.5, pro: { area: 0.25, regions: 1 }, typeProArea: 0.125 },
    ]);
  });

  it("names the file and line of what it cannot read", () => {
    const text = scoresCsv(results, 1, pro);
    assert.throws(() => parseScoresCsv("", "f.csv"), (e: unknown) => e instanceof ScoresFileError && e.file === "f.csv" && /first line/.test(e.message));
    assert.throws(() => parseScoresCsv(text.replace("0.5,pass", "NaN,pass"), "f.csv"), /f\.csv: line 5: want/);
    assert.throws(() => parseScoresCsv(text.replace("0.75,2", "0.75,"), "f.csv"), /line 4: want/);
    assert.throws(() => parseScoresCsv(text.replace("0.75,2,0.5", "0.75,2,"), "f.csv"), /line 4: want/);
    assert.throws(() => parseScoresCsv(text.replace("0.9,pass,,,", "0.9,pass,,"), "f.csv"), /line 3: want/);
    assert.throws(() => parseScoresCsv(`${text}good,a,0.1,pass,,,\n`, "f.csv"), /line 6: good\/a appears twice/);
  });

  it("compares image AUROC and AUPRO with a baseline: positive when this run ranks better", () => {
    // baseline: one good image (b) outscores one defect (d) -> AUROC 3/4; this run: b 0.9 < d 1.0 -> 1
    const mine = results.map((r) => (r.name === "d" ? { ...r, score: 1.0 } : r));
    const minePro = {
      image_pro: new Map([[mine[2], { area: 0.75, regions: 2 }], [mine[3], { area: 0.55, regions: 1 }]]),
      type_pro: new Map([[mine[2], { area: 0.5, regions: 2 }], [mine[3], { area: 0.05, regions: 1 }]]),
    };
    const base = parseScoresCsv(scoresCsv(results, 1, pro), "base.csv");
    const c = compareWithBaseline(mine, minePro, base, "base.csv");
    assert.equal(c.image_auroc.baseline, 0.75);
    assert.equal(c.image_auroc.difference, 0.25);
    assert.ok(c.image_auroc.interval[0] >= 0 && c.image_auroc.interval[1] > 0);
    assert.ok(Math.abs(c.aupro!.baseline - 1 / 3) < 1e-12 && Math.abs(c.aupro!.difference - 0.1) < 1e-12);
    assert.deepEqual(Object.keys(c.per_type), ["crack"]);
    // per type: baseline (0.5 + 0.125) / 3, this run (0.5 + 0.05) / 3 -> worse by 0.025
    const crack = c.per_type_aupro!.crack;
    assert.ok(Math.abs(crack.baseline - 0.625 / 3) < 1e-12 && Math.abs(crack.difference + 0.025) < 1e-12);
    assert.ok(crack.interval[0] < 0 && crack.share_not_better > 0.5);
    assert.throws(() => compareWithBaseline(mine.slice(1), minePro, base, "base.csv"), /base\.csv: scored other images than this run \(4 rows, 3 images/);
  });

  it("reads a file written before the per-type column; its per-type AUPRO is not compared", () => {
    const old = scoresCsv(results, 1, pro)
      .split("\n")
      .map((l) => l.replace(/,[^,]*$/, ""))
      .join("\n");
    assert.equal(old.split("\n")[0], "type,name,score,verdict,pro_area,regions");
    const rows = parseScoresCsv(old, "old.csv");
    assert.deepEqual(rows[2], { type: "crack", name: 'c"x', score: 1.5, pro: { area: 0.75, regions: 2 }, typeProArea: null });
    const c = compareWithBaseline(results, pro, rows, "old.csv");
    assert.equal(c.aupro!.difference, 0);
    assert.equal(c.per_type_aupro, undefined);
  });
});
