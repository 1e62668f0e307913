import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ConfigError, defaultModelDir, loadConfig } from "../../src/config/load.js";

const dir = mkdtempSync(join(tmpdir(), "lw-config-"));
const write = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const problemsOf = (file: string): string[] => {
  try {
    loadConfig(file);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${(err as Error).name}`);
    return err.problems;
  }
  assert.fail("the config was accepted");
};

describe("config", () => {
  it("fills defaults and resolves paths against the config file", () => {
    const cfg = loadConfig(write("ok.yaml", "device_id: box1\ncameras:\n  - {id: top, kind: images, path: imgs}\n"));
    assert.equal(cfg.base_topic, "linewatch");
    assert.equal(cfg.cameras[0].kind, "images");
    if (cfg.cameras[0].kind === "images") assert.equal(cfg.cameras[0].path, join(dir, "imgs"));
    assert.equal(cfg.model.dir, defaultModelDir);
    assert.deepEqual(cfg.model.providers.map((p) => p.kind), ["tensorrt", "cuda", "cpu"]);
    assert.equal(cfg.health.bind, "127.0.0.1");
    assert.deepEqual(cfg.cameras[0].tiling, { mode: "resize" });
    assert.equal(cfg.cameras[0].reconnect_initial_ms, 500);
    assert.equal(cfg.cameras[0].reconnect_max_s, 10);
    assert.deepEqual(cfg.mqtt.spool, { max_mb: 256, max_age_h: 168 });
  });

  it("reports every problem with its path", () => {
    const problems = problemsOf(
      write(
        "bad.yaml",
        [
          "device_id: Box 1",
          "colour: blue",
          "cameras:",
          "  - {id: a, kind: rtsp, url: http://x}",
          "  - {id: a, kind: test, fps: -1, tiling: {mode: grid, tile: 64, overlap: 64}}",
          "  - {id: c, kind: webcam}",
          "mqtt: {url: 'ftp://x', password_file: /p, password_env: P}",
          "health: {port: 70000}",
        ].join("\n"),
      ),
    );
    const text = problems.join("\n");
    for (const expected of [
      /^device_id: /m,
      /^\(root\): unknown key 'colour'/m,
      /^cameras\[0\]\.url: must start with rtsp:\/\//m,
      /^cameras\[1\]\.fps: /m,
      /^cameras\[1\]\.tiling\.overlap: overlap must be smaller than tile/m,
      /^cameras\[1\]\.id: duplicate camera id 'a'/m,
      /^cameras\[2\]\.kind: must be one of/m,
      /^mqtt\.url: /m,
      /^health\.port: /m,
    ]) assert.match(text, expected);
  });

  it("names the line of a YAML syntax error and an unreadable file", () => {
    assert.match(problemsOf(write("syntax.yaml", "device_id: a\ncameras: [\n"))[0], /^line \d+, column \d+: not valid YAML/);
    assert.match(problemsOf(join(dir, "nope.yaml"))[0], /cannot read the file: ENOENT/);
  });

  it("check-config reports a secret file that cannot be read, with its path, exit 2", () => {
    const file = write("secret.yaml", "device_id: a\ncameras: [{id: c, kind: test}]\nmqtt: {url: 'mqtt://127.0.0.1:1', password_file: /nonexistent/linewatch-pw}\n");
    const r = spawnSync(process.execPath, ["--import", "tsx", "src/cli.cts", "check-config", "--config", file], { encoding: "utf8" });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /mqtt\.password_file: cannot read the MQTT password file \/nonexistent\/linewatch-pw: ENOENT/);
  });

  it("check-config exits 2 and prints the problems; 0 for the shipped default", () => {
    const bad = spawnSync(process.execPath, ["--import", "tsx", "src/cli.cts", "check-config", "--config", write("b.yaml", "cameras: []\n")], { encoding: "utf8" });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /device_id: Required/);
    assert.match(bad.stderr, /cameras: Array must contain at least 1/);
    const good = spawnSync(process.execPath, ["--import", "tsx", "src/cli.cts", "check-config", "--config", "config/default.yaml"], { encoding: "utf8" });
    assert.equal(good.status, 0, good.stderr);
  });
});
