import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, it } from "node:test";
import { stringify } from "yaml";
import { cliPath, startDaemon } from "../helpers/daemon.js";

const tmp = mkdtempSync(join(tmpdir(), "lw-bad-"));
const bundled = resolve("models/magtile-student");
const camera = { id: "cam", kind: "test", width: 96, height: 64, fps: 2 };

/** Runs `linewatch <cmd> --config <file>` to its end (a 60 s cap) and returns the exit code and output. */
function linewatch(cmd: string, config: string): { code: number | null; stderr: string; stdout: string } {
  const r = spawnSync(process.execPath, [cliPath, cmd, "--config", config], { encoding: "utf8", timeout: 60_000 });
  return { code: r.status, stderr: r.stderr, stdout: r.stdout };
}

function file(name: string, text: string): string {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
}

/** A copy of the bundled model with `change` applied to its files. */
function model(name: string, change: (dir: string) => void): string {
  const dir = join(tmp, name);
  mkdirSync(dir);
  for (const f of ["model.onnx", "model.json"]) copyFileSync(join(bundled, f), join(dir, f));
  change(dir);
  return dir;
}

describe("bad configuration: a clear error and exit 2, from check-config and run alike", { timeout: 120_000 }, () => {
  const good = { device_id: "bad", state_dir: join(tmp, "state"), cameras: [camera] };
  const cases: [string, string, RegExp][] = [
    ["an unreadable file (a folder)", tmp, /cannot read the file: EISDIR/],
    ["a missing file", join(tmp, "nope.yaml"), /cannot read the file: ENOENT/],
    ["bad YAML", file("yaml.yaml", "device_id: x\ncameras: [\n  - id: a\n    kind: [test\n"), /line \d+, column \d+: not valid YAML/],
    ["wrong types", file("types.yaml", stringify({ ...good, health: { port: "nine" }, cameras: [{ ...camera, fps: -1 }] })), /2 problems[\s\S]*cameras\[0\]\.fps: Number must be greater than 0[\s\S]*health\.port: Expected number, received string/],
    ["unknown keys", file("keys.yaml", stringify({ ...good, mqtt: { url: "mqtt://127.0.0.1:1", pasword_file: "x" } })), /mqtt: unknown key 'pasword_file'/],
  ];
  for (const [what, path, message] of cases) {
    it(what, () => {
      for (const cmd of ["check-config", "run"]) {
        const r = linewatch(cmd, path);
        assert.equal(r.code, 2, `${cmd}: exit ${r.code}; ${r.stderr}`);
        assert.match(r.stderr, message, `${cmd}: ${r.stderr}`);
      }
    });
  }
});

describe("bad model: `linewatch run` exits non-zero with a message that names the problem", { timeout: 180_000 }, () => {
  const cases: [string, () => string, RegExp][] = [
    ["a missing model folder", () => join(tmp, "no-model"), /cannot read the model manifest .*no-model\/model\.json/],
    ["a truncated ONNX", () => model("truncated", (d) => writeFileSync(join(d, "model.onnx"), readFileSync(join(d, "model.onnx")).subarray(0, 100_000))), /no execution provider could load .*truncated\/model\.onnx/],
    ["a corrupt ONNX (random bytes)", () => model("corrupt", (d) => writeFileSync(join(d, "model.onnx"), Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)))), /no execution provider could load .*corrupt\/model\.onnx/],
    [
      "a manifest that disagrees with the ONNX",
      () => model("mismatch", (d) => {
        const m = JSON.parse(readFileSync(join(d, "model.json"), "utf8"));
        m.input.height = m.input.width = 320;
        writeFileSync(join(d, "model.json"), JSON.stringify(m));
      }),
      /disagrees with its manifest: input size: ONNX 256x256, manifest 320x320/,
    ],
  ];
  for (const [what, dir, message] of cases) {
    it(what, () => {
      const config = file(`model-${what.replace(/\W+/g, "-")}.yaml`, stringify({ device_id: "bad", state_dir: join(tmp, "state"), cameras: [camera], mqtt: { url: "mqtt://127.0.0.1:9" }, health: { port: 0 }, model: { dir: dir(), providers: [{ kind: "cpu" }] } }));
      const r = linewatch("run", config);
      assert.equal(r.code, 1, `exit ${r.code}; ${r.stderr}`);
      assert.match(r.stderr, message);
    });
  }

  it("an execution provider that cannot load is logged and skipped; the next one runs", async () => {
    const d = startDaemon({ device_id: "bad", cameras: [camera], mqtt: { url: "mqtt://127.0.0.1:9" }, health: { port: 0 }, model: { providers: [{ kind: "cuda", device_id: 0 }, { kind: "cpu" }] } });
    try {
      const skipped = await d.waitForLog((l) => l.msg === "execution provider unavailable, trying the next", 60_000);
      assert.equal(skipped.provider, "cuda");
      const loaded = await d.waitForLog((l) => l.msg === "model loaded", 60_000);
      assert.equal(loaded.provider, "cpu");
      // Warmed up at the largest batch (pipeline.batch_max_tiles, default 8), so ONNX Runtime's
      // arena reaches its size at start and RSS does not step up at the first full batch.
      assert.equal(loaded.warmup_batch, 8);
    } finally {
      d.proc.kill("SIGKILL");
    }
  });
});
