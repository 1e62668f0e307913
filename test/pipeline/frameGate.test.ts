import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FrameGate } from "../../src/pipeline/frameGate.js";
import type { RoiFrame } from "../../src/types.js";

const f = (camera: string, seq: number): RoiFrame => ({ camera, seq, captured_at: 0, captured_mono: 0, width: 1, height: 1, format: "GRAY8", data: new Uint8Array(1), roi: { x: 0, y: 0, width: 1, height: 1 } });

describe("FrameGate", () => {
  it("drops each camera's oldest waiting frame and lets frames through round-robin as capacity frees", () => {
    const gate = new FrameGate(2, 2, () => 1, (x) => `${x.camera}/${x.seq}`);
    const out: string[] = [];
    gate.released$.subscribe((x) => out.push(`${x.camera}/${x.seq}`));
    for (let i = 0; i < 5; i++) gate.admit(f("a", i));
    gate.admit(f("b", 0));
    // a/0 and a/1 fill the pipeline; a/2 is pushed out by a/3, a/4.
    assert.deepEqual(out, ["a/0", "a/1"]);
    assert.equal(gate.statsOf("a").dropped, 1);
    assert.equal(gate.statsOf("a").waiting, 2);
    gate.done("a/0");
    gate.done("a/1");
    // Round-robin: b gets its turn before a's second waiting frame.
    assert.deepEqual(out, ["a/0", "a/1", "b/0", "a/3"]);
    assert.equal(gate.get("b/0")?.camera, "b");
    assert.equal(gate.inflightCount, 2);
  });

  it("wants a camera's next frame only when none of its frames waits and tiles in flight leave room, and says when that may change", () => {
    const gate = new FrameGate(2, 2, () => 1, (x) => `${x.camera}/${x.seq}`);
    let rooms = 0;
    gate.room$.subscribe(() => rooms++);
    assert.ok(gate.wants("a") && gate.wants("b"), "an empty gate wants every camera");
    gate.admit(f("a", 0));
    assert.ok(gate.wants("a"), "a/0 went through and there is room for one more tile");
    gate.admit(f("a", 1));
    assert.ok(!gate.wants("a") && !gate.wants("b"), "two tiles in flight: no room");
    gate.admit(f("b", 0));
    assert.equal(gate.statsOf("b").waiting, 1);
    gate.done("a/0");
    // b/0 takes the freed room: still full, nothing to say.
    assert.equal(rooms, 0);
    assert.ok(!gate.wants("a"));
    gate.done("a/1");
    assert.equal(rooms, 1);
    assert.ok(gate.wants("a") && gate.wants("b"));
    gate.admit(f("b", 1));
    gate.admit(f("b", 2));
    assert.ok(!gate.wants("b"), "b has a frame waiting");
    gate.complete();
  });

  it("lets frames through while fewer tiles than the budget are in flight, the last one past it", () => {
    const gate = new FrameGate(4, 32, () => 12, (x) => `${x.camera}/${x.seq}`);
    const out: number[] = [];
    gate.released$.subscribe((x) => out.push(x.seq));
    for (let i = 0; i < 4; i++) gate.admit(f("a", i));
    assert.deepEqual(out, [0, 1, 2], "12 + 12 < 32 lets a third 12-tile frame through");
    gate.done("a/0");
    assert.deepEqual(out, [0, 1, 2, 3]);
  });

  it("always lets one frame through an empty pipeline, however costly", () => {
    const gate = new FrameGate(1, 4, () => 10, (x) => `${x.camera}/${x.seq}`);
    const out: number[] = [];
    gate.released$.subscribe((x) => out.push(x.seq));
    gate.admit(f("a", 0));
    gate.admit(f("a", 1));
    assert.deepEqual(out, [0]);
    gate.done("a/0");
    assert.deepEqual(out, [0, 1]);
  });
});
