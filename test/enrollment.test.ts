import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { CameraConfig } from "../src/config/schema.js";
import { defaultModelDir } from "../src/config/load.js";
import { Enrollment } from "../src/enrollment.js";
import { InferenceEngine } from "../src/pipeline/inferenceEngine.js";
import type { Reference } from "../src/pipeline/reference.js";
import { ReferenceStore } from "../src/pipeline/referenceStore.js";
import { captureLogger, makeDecision } from "./publish/fixtures.js";

// Enrolment over MQTT as the daemon runs it, on the real model; answers recorded instead of published.
describe("enrolment from live frames", { timeout: 120_000 }, () => {
  const { log } = captureLogger();
  const root = mkdtempSync(join(tmpdir(), "lw-enroll-"));
  let engine: InferenceEngine;
  let built: Reference | null = null;
  before(async () => {
    engine = await InferenceEngine.open({ dir: defaultModelDir, providers: [{ kind: "cpu" }], workers: 1, threads: 1 }, log);
  });
  after(async () => {
    await engine?.close();
    rmSync(root, { recursive: true, force: true });
  });

  function setup(dir: string) {
    const store = new ReferenceStore(join(root, dir));
    const answers: Record<string, unknown>[] = [];
    const cameras = [{ id: "cam", tiling: { mode: "resize" } }] as unknown as CameraConfig[];
    const enrollment = new Enrollment({ engine, store, cameras, batch_max: 8, log, answer: (_c, body) => answers.push(body), changed: () => undefined });
    const frame = (seq: number) => {
      const d = makeDecision("cam", seq, { width: 96, height: 96 });
      for (let i = 0; i < d.image.data.length; i++) d.image.data[i] = ((i + seq * 7) * 2654435761) >>> 24;
      return d;
    };
    const until = async (state: string) => {
      for (let t = 0; t < 600 && !answers.some((a) => a.state === state || a.state === "failed"); t++) await new Promise((r) => setTimeout(r, 50));
    };
    return { store, answers, enrollment, frame, until };
  }

  it("stores the reference built from the next frames and says done", async () => {
    const { store, answers, enrollment, frame, until } = setup("a");
    enrollment.command("cam", { frames: 2 });
    enrollment.offer(frame(1));
    enrollment.offer(frame(2));
    await until("done");
    assert.deepEqual(answers.map((a) => a.state), ["collecting", "collecting", "collecting", "building", "done"]);
    assert.equal(store.load("cam")?.shots, 2);
    built = store.load("cam");
  });

  it("keeps a reference another process (linewatch enroll) stored while this one was being built", async () => {
    const { store, answers, enrollment, frame, until } = setup("c");
    enrollment.command("cam", { frames: 3 });
    for (const seq of [5, 6, 7]) enrollment.offer(frame(seq)); // the build of 3 starts now
    new ReferenceStore(join(root, "c")).save("cam", built!); // the CLI's, of 2
    await until("cancelled");
    assert.deepEqual(answers.map((a) => a.state), ["collecting", "collecting", "collecting", "collecting", "building", "cancelled"]);
    assert.match(String(answers.at(-1)!.error), /changed meanwhile by another process .*that one is kept/);
    assert.equal(store.load("cam")?.shots, 2);
  });

  it("drops a reference cleared while it was being built instead of bringing it back", async () => {
    const { store, answers, enrollment, frame, until } = setup("b");
    enrollment.command("cam", { frames: 2 });
    enrollment.offer(frame(3));
    enrollment.offer(frame(4)); // the build starts now
    enrollment.command("cam", { clear: true });
    await until("cancelled");
    assert.deepEqual(answers.map((a) => a.state), ["collecting", "collecting", "collecting", "building", "cleared", "cancelled"]);
    assert.match(String(answers.at(-1)!.error), /cleared while it was being built; nothing stored/);
    assert.equal(store.load("cam"), null);
    assert.ok(!existsSync(store.path("cam")));
  });
});
