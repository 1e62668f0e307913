import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, it } from "node:test";
import { cliPath, writeConfig } from "../helpers/daemon.js";

// `linewatch enroll` with the real model, as an engineer gives a camera its line's good parts.
const tmp = mkdtempSync(join(tmpdir(), "lw-enroll-"));
const state = join(tmp, "state");
const config = writeConfig({
  device_id: "enroll",
  state_dir: state,
  cameras: [
    { id: "line", kind: "images", path: resolve("demo/images"), roi: { x: 0, y: 0, width: 256, height: 200 } },
    { id: "other", kind: "test" },
  ],
});
const good = join(tmp, "good");
mkdirSync(good);
const goods = readdirSync("demo/images").filter((f) => f.includes("_good_")).slice(0, 3);
for (const f of goods) copyFileSync(join("demo/images", f), join(good, f));
writeFileSync(join(good, "notes.txt"), "not an image\n");
const empty = join(tmp, "empty");
mkdirSync(empty);
const stored = join(state, "references", "line.json");

function enroll(...args: string[]) {
  const r = spawnSync(process.execPath, [cliPath, "enroll", "--config", config, ...args], { encoding: "utf8", timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("linewatch enroll", { timeout: 300_000 }, () => {
  it("builds a camera's reference from a folder of good images and stores it under the state directory", () => {
    assert.equal(goods.length, 3);
    const r = enroll("--camera", "line", "--images", good);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`camera line: reference \\(feature bank of \\d+ patches\\) of 3 good image\\(s\\) stored in ${stored.replace(/[.]/g, "\\.")}`));
    const ref = JSON.parse(readFileSync(stored, "utf8")) as { kind: string; shots: number };
    assert.equal(ref.kind, "features");
    assert.equal(ref.shots, 3);
    assert.ok(!existsSync(join(state, "references", "other.json")), "only the named camera is enrolled");
    assert.doesNotMatch(r.stderr, /warning/);
  });

  it("stores a reference of one good image, and warns that one is risky", () => {
    const one = join(tmp, "one");
    mkdirSync(one);
    copyFileSync(join(good, goods[0]), join(one, goods[0]));
    const r = enroll("--camera", "line", "--images", one);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /linewatch enroll: warning: a reference of one good image can fail many good parts .*enrol at least 2/);
    assert.equal((JSON.parse(readFileSync(stored, "utf8")) as { shots: number }).shots, 1);
  });

  it("--clear removes it", () => {
    const r = enroll("--camera", "line", "--clear");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /reference of camera line removed/);
    assert.ok(!existsSync(stored));
  });

  it("exits 2 with a clear message for bad options, an unknown camera or a folder without images, and stores nothing", () => {
    const cases: [string[], RegExp][] = [
      [["--camera", "line"], /linewatch enroll: --images DIR \(or --clear\) is required/],
      [["--images", good], /linewatch enroll: --camera is required/],
      [["--camera", "nope", "--images", good], /linewatch enroll: no camera 'nope' in .* \(it has line, other\)/],
      [["--camera", "line", "--images", good, "--shots", "4"], /linewatch enroll: .*--shots/],
      [["--camera", "line", "--images", join(tmp, "missing")], /linewatch enroll: cannot read .*missing: ENOENT/],
      [["--camera", "line", "--images", empty], /linewatch enroll: no PNG, JPEG or BMP images in .*empty/],
    ];
    for (const [args, message] of cases) {
      const r = enroll(...args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    const bad = spawnSync(process.execPath, [cliPath, "enroll", "--config", join(tmp, "none.yaml"), "--camera", "line", "--images", good], { encoding: "utf8", timeout: 60_000 });
    assert.equal(bad.status, 2, bad.stderr);
    assert.match(bad.stderr, /^linewatch enroll: .*none\.yaml/);
    assert.ok(!existsSync(stored));
  });
});
