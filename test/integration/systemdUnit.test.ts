import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { before, describe, it } from "node:test";

/**
 * systemd/install.sh and the unit it installs, into temp PREFIX, ETC and UNIT_DIR. install.sh runs
 * from a small stand-in checkout (the scripts, a built entry point, the example config) so the test
 * does not copy node_modules; the unit is then checked with systemd-analyze as installed.
 */
describe("systemd/install.sh and linewatch.service", { timeout: 120_000 }, () => {
  const tmp = mkdtempSync(join(tmpdir(), "lw-install-"));
  const checkout = join(tmp, "checkout");
  const env = { ...process.env, PREFIX: join(tmp, "opt", "linewatch"), ETC: join(tmp, "etc", "linewatch"), UNIT_DIR: join(tmp, "units") };
  const unit = join(env.UNIT_DIR, "linewatch.service");
  const runs: ReturnType<typeof spawnSync>[] = [];

  /** Every file under `dir` with its mode and contents, to compare two installs. */
  const snapshot = (dir: string): string[] =>
    readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name))
      .sort()
      .map((p) => `${p} ${statSync(p).mode.toString(8)} ${readFileSync(p, "utf8").length}:${readFileSync(p, "utf8").slice(0, 64)}`);

  before(() => {
    for (const d of ["systemd", "dist/src", "config"]) mkdirSync(join(checkout, d), { recursive: true });
    for (const f of ["systemd/install.sh", "systemd/linewatch.service", "config/linewatch.example.yaml", "README.md"]) copyFileSync(resolve(f), join(checkout, f));
    writeFileSync(join(checkout, "dist/src/cli.cjs"), "#!/usr/bin/env node\n");
    mkdirSync(env.UNIT_DIR);
    const install = () => spawnSync("bash", [join(checkout, "systemd/install.sh")], { env, encoding: "utf8" });
    runs.push(install());
    const first = [...snapshot(join(tmp, "opt")), ...snapshot(join(tmp, "etc")), ...snapshot(env.UNIT_DIR)];
    // The operator edits the config between the runs: a second install must keep it.
    writeFileSync(join(env.ETC, "linewatch.yaml"), "# edited by the operator\n", { flag: "a" });
    runs.push(install());
    const second = [...snapshot(join(tmp, "opt")), ...snapshot(join(tmp, "etc")), ...snapshot(env.UNIT_DIR)];
    snapshots.push(first, second);
  });
  const snapshots: string[][] = [];

  it("installs user, code, config, credential file and unit, and a second run changes nothing but keeps the edited config", () => {
    for (const r of runs) assert.equal(r.status, 0, `install.sh failed: ${r.stderr}`);
    assert.match(String(runs[1].stdout), /kept the existing .*linewatch\.yaml/);
    assert.equal(spawnSync("id", ["-u", "linewatch"]).status, 0, "no linewatch user");
    const [first, second] = snapshots;
    const edited = (l: string) => l.includes("/etc/linewatch/linewatch.yaml ");
    assert.deepEqual(second.filter((l) => !edited(l)), first.filter((l) => !edited(l)));
    assert.ok(readFileSync(join(env.ETC, "linewatch.yaml"), "utf8").endsWith("# edited by the operator\n"));
    assert.equal(statSync(join(env.ETC, "mqtt-password")).mode & 0o777, 0o600);
    const text = readFileSync(unit, "utf8");
    assert.ok(text.includes(`${env.PREFIX}/dist/src/cli.cjs`) && text.includes(`LoadCredential=mqtt-password:${env.ETC}/mqtt-password`));
    assert.doesNotMatch(text, /(=|\s|file:\/\/)\/(opt|etc)\/linewatch\//, "a path was not rewritten");
  });

  it("systemd-analyze verify prints nothing on stderr", () => {
    const r = spawnSync("systemd-analyze", ["verify", unit], { encoding: "utf8" });
    assert.equal(r.stderr, "");
    assert.equal(r.status, 0);
  });

  it("systemd-analyze security rates it 3.0 or lower", () => {
    const r = spawnSync("systemd-analyze", ["security", "--offline=yes", unit], { encoding: "utf8" });
    const m = /Overall exposure level for linewatch\.service: ([\d.]+)/.exec(r.stdout);
    assert.ok(m, r.stdout + r.stderr);
    process.stdout.write(`# systemd-analyze security: ${m[1]}\n`);
    assert.ok(Number(m[1]) <= 3.0, `exposure ${m[1]}`);
  });

  it("is Type=notify with a watchdog, restarts on failure and stops within a TimeoutStopSec above the daemon's own deadline", () => {
    const text = readFileSync(unit, "utf8");
    for (const line of ["Type=notify", "NotifyAccess=all", "WatchdogSec=30", "Restart=on-failure", "StateDirectory=linewatch", "ConfigurationDirectory=linewatch", "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "SupplementaryGroups=video", "DeviceAllow=char-video4linux rw"]) {
      assert.ok(text.split("\n").includes(line), `missing ${line}`);
    }
    // linewatch run stops under a 20 s deadline (src/main.ts); systemd waits 30 s before SIGKILL.
    assert.match(text, /^TimeoutStopSec=30$/m);
  });
});
