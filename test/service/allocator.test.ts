import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, it } from "node:test";
import { unitRuntime } from "../../scripts/unitRuntime.js";
import { allocator } from "../../src/service/allocator.js";

/** What allocator() reports in a node started as the daemon would be, with `env` added. */
function reported(env: Record<string, string>): { stdout: string; stderr: string } {
  const probe = `import { allocator } from ${JSON.stringify(resolve("src/service/allocator.ts"))}; process.stdout.write(allocator());`;
  const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", probe], { env: { ...process.env, ...env }, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return { stdout: r.stdout, stderr: r.stderr };
}

describe("allocator", () => {
  it("reports the system malloc in a plain process", () => {
    assert.equal(allocator(), "system");
  });

  it("reports jemalloc when it is preloaded with the settings README's Deployment gives (libjemalloc2 from make setup)", () => {
    // jemalloc warns on stderr ("Invalid conf pair") and goes on when MALLOC_CONF has a typo.
    const r = reported({ LD_PRELOAD: "libjemalloc.so.2", MALLOC_CONF: "narenas:2,background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0" });
    assert.equal(r.stderr, "");
    assert.equal(r.stdout, "jemalloc");
  });

  it("the unit's GLIBC_TUNABLES fixes glibc's mmap threshold at 128 KiB (glibc ignores a tunable it does not know without a word)", () => {
    const tunables = unitRuntime().env.GLIBC_TUNABLES;
    assert.ok(tunables, "systemd/linewatch.service sets no GLIBC_TUNABLES");
    // The dynamic loader lists the tunables as the process would get them from this environment.
    const loader = { x64: "/lib64/ld-linux-x86-64.so.2", arm64: "/lib/ld-linux-aarch64.so.1" }[process.arch as "x64" | "arm64"];
    assert.ok(loader, `no dynamic loader known for ${process.arch}`);
    const r = spawnSync(loader, ["--list-tunables"], { env: { GLIBC_TUNABLES: tunables }, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^glibc\.malloc\.mmap_threshold: 0x20000 /m);
    // And the check can fail: a misspelt name leaves the threshold unset (0, dynamic).
    const typo = spawnSync(loader, ["--list-tunables"], { env: { GLIBC_TUNABLES: tunables.replace("mmap_threshold", "mmap_treshold") }, encoding: "utf8" });
    assert.match(typo.stdout, /^glibc\.malloc\.mmap_threshold: 0x0 /m);
  });

  it("make run and npm start start node as the unit does (its node flags and GLIBC_TUNABLES)", () => {
    const { nodeFlags, env } = unitRuntime();
    const makeRun = /^run:.*\n\t(.*)$/m.exec(readFileSync("Makefile", "utf8"))?.[1];
    const npmStart = (JSON.parse(readFileSync("package.json", "utf8")) as { scripts: Record<string, string> }).scripts.start;
    for (const [name, line] of [["make run", makeRun], ["npm start", npmStart]] as const) {
      assert.ok(line, `${name}: no command found`);
      assert.ok(line.startsWith(`GLIBC_TUNABLES=${env.GLIBC_TUNABLES} node ${nodeFlags.join(" ")} `), `${name}: ${line}`);
    }
  });
});
