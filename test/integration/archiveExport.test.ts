import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import sharp from "sharp";
import { RejectArchive } from "../../src/publish/rejectArchive.js";
import { cliPath } from "../helpers/daemon.js";
import { captureLogger, makeDecision } from "../publish/fixtures.js";

// The line's own labelled parts as an evaluation set: frames archived by the daemon's own
// archive code, labelled as an operator labels them, exported with the CLI, then evaluated with
// the real model as a maintainer ranks a candidate model on them.
const root = mkdtempSync(join(tmpdir(), "lw-export-"));
const archiveDir = join(root, "archive");
const demo = readdirSync(resolve("demo/images")).sort();
const T = Date.parse("2026-11-25T07:00:00.000Z");

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [cliPath, ...args], { encoding: "utf8", timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `002_crack_exp4_num_85602.jpg` -> "crack". */
const kindOf = (file: string) => file.split("_")[1];

describe("linewatch archive-export", { timeout: 300_000 }, () => {
  const frameIds: string[] = [];

  before(async () => {
    const archive = await RejectArchive.open(archiveDir, { enabled: true, max_mb: 64, interval_ms: 0, pass_interval_ms: 0, quality: 90 }, { device: "d", version: "0", model: { name: "m", version: "1" }, started_at: 0 }, captureLogger().log);
    for (const [k, file] of demo.entries()) {
      const { data, info } = await sharp(resolve("demo/images", file)).removeAlpha().toColourspace("srgb").raw().toBuffer({ resolveWithObject: true });
      const camera = k % 2 === 0 ? "top" : "side";
      const captured_at = T + k * 7_200_000; // two hours apart: frames 9 on fall on the next UTC day
      const d = { ...makeDecision(camera, k, { fail: true, width: info.width, height: info.height }), captured_at, frame_id: `${camera}-${captured_at}-${k}` };
      d.image = { width: info.width, height: info.height, format: "RGB", data: new Uint8Array(data) };
      assert.ok(await archive.save(d), file);
      frameIds.push(d.frame_id);
      // The last three are left unlabelled, as an operator leaves some.
      if (k >= demo.length - 3) continue;
      const kind = kindOf(file);
      await archive.label(camera, kind === "good" ? { frame_id: d.frame_id, truth: "good", by: "op-1" } : { frame_id: d.frame_id, truth: "defect", type: kind, note: `seen at rework: ${kind}` });
    }
  });

  after(() => rmSync(root, { recursive: true, force: true }));

  it("writes the labelled frames in the MVTec AD layout without masks, with labels.csv, and says what it wrote", () => {
    const out = join(root, "set");
    const r = cli("archive-export", "--archive", archiveDir, "--out", out);
    assert.equal(r.code, 0, r.stderr);
    const labelled = demo.slice(0, -3);
    const good = labelled.filter((f) => kindOf(f) === "good").length;
    assert.match(r.stdout, new RegExp(`exported ${labelled.length} labelled frame\\(s\\) of ${demo.length} archived .*: good ${good}, defective ${labelled.length - good} \\(`));
    assert.match(r.stdout, /3 unlabelled left out/);
    assert.ok(!existsSync(join(out, "ground_truth")));
    for (const [k, file] of labelled.entries()) {
      const folder = kindOf(file);
      assert.ok(existsSync(join(out, "test", folder, `${frameIds[k]}.jpg`)), `${file} -> test/${folder}/${frameIds[k]}.jpg`);
    }
    const csv = readFileSync(join(out, "labels.csv"), "utf8").trim().split("\n");
    assert.equal(csv[0], "image,frame_id,camera,captured_at,truth,type,by,note,labelled_at,daemon_verdict,daemon_score,daemon_model");
    assert.equal(csv.length, labelled.length + 1);
    const crack = csv.find((l) => l.includes("/crack/"))!.split(",");
    assert.deepEqual([crack[4], crack[5], crack[7], crack[9], crack[11]], ["defect", "crack", "seen at rework: crack", "fail", "m 1"]);
  });

  it("chooses by camera and UTC day", () => {
    const out = join(root, "top-first-day");
    const r = cli("archive-export", "--archive", archiveDir, "--out", out, "--camera", "top", "--until", "2026-11-25");
    assert.equal(r.code, 0, r.stderr);
    const files = readdirSync(join(out, "test"), { recursive: true }).filter((f) => String(f).endsWith(".jpg")).map(String);
    // top is every even frame; frames 0..8 fall on 2026-11-25 (07:00 + 2k hours), all of them labelled.
    assert.equal(files.length, demo.filter((_, k) => k % 2 === 0 && k <= 8).length);
    assert.ok(files.every((f) => f.includes("top-")));
  });

  it("refuses a folder that is not empty, a missing or doubled source, a bad day, and an archive with no label", () => {
    const full = join(root, "full");
    mkdirSync(full);
    writeFileSync(join(full, "x"), "");
    assert.equal(cli("archive-export", "--archive", archiveDir, "--out", full).code, 2);
    assert.equal(cli("archive-export", "--out", join(root, "o1")).code, 2);
    assert.match(cli("archive-export", "--archive", archiveDir, "--config", "x.yaml", "--out", join(root, "o2")).stderr, /--config FILE .* or --archive DIR, one of them/);
    assert.match(cli("archive-export", "--archive", archiveDir, "--since", "25.11.2026", "--out", join(root, "o3")).stderr, /--since must be a UTC day/);
    const r = cli("archive-export", "--archive", archiveDir, "--camera", "nobody", "--out", join(root, "o4"));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /none of the 0 archived frame\(s\) chosen .* is labelled/);
    assert.ok(!existsSync(join(root, "o4", "labels.csv")));
  });

  it("skips an entry whose image went (pruned by the running daemon while exporting), names it, and exports the rest", () => {
    const copy = join(root, "archive-copy");
    cpSync(archiveDir, copy, { recursive: true });
    const gone = frameIds[0]; // labelled, camera top, first day
    rmSync(join(copy, "top", "2026-11-25", `${gone}.jpg`));
    const out = join(root, "set-gone");
    const r = cli("archive-export", "--archive", copy, "--out", out);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`skipped: top/2026-11-25/${gone}: its image is gone`));
    const labelled = demo.length - 3;
    assert.match(r.stdout, new RegExp(`exported ${labelled - 1} labelled frame\\(s\\) of ${demo.length} archived`));
    assert.equal(readFileSync(join(out, "labels.csv"), "utf8").trim().split("\n").length, labelled);
    assert.ok(!readFileSync(join(out, "labels.csv"), "utf8").includes(gone));
  });

  it("gives a set linewatch eval ranks models on by image labels alone", () => {
    const set = join(root, "set");
    if (!existsSync(set)) assert.equal(cli("archive-export", "--archive", archiveDir, "--out", set).code, 0);
    const report = join(root, "report");
    const r = cli("eval", "--model", resolve("models/magtile-student"), "--dataset", set, "--out", report);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /image labels only/);
    const m = /image AUROC ([01]\.\d{4})\s+pixel AUROC n\/a\s+AUPRO n\/a/.exec(r.stdout);
    assert.ok(m, r.stdout);
    // The bundled model tells the demo's defects from its good parts (1.0 on them): labels crossed
    // over anywhere between archive and eval would pull it far down.
    assert.ok(Number(m[1]) > 0.9, r.stdout);
    const again = cli("eval", "--model", resolve("models/magtile-student"), "--dataset", set, "--baseline", join(report, "scores.csv"));
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /image AUROC against .*: difference 0\.0000/);
  });
});
