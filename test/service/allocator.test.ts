import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { describe, it } from "node:test";
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
});
