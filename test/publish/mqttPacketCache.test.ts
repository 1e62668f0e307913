import assert from "node:assert/strict";
import type { Writable } from "node:stream";
import { describe, it } from "node:test";
import mqttPacket from "mqtt-packet";

// mqtt-packet caches the encoded remaining length of every packet size below 16384 for good; a
// cached slice of Node's Buffer pool pins a whole pool block (8 KiB) per size, which grew the
// daemon's memory for as long as new result and thumbnail sizes kept coming. The install patches
// it (scripts/patchMqttPacket.mjs): this fails when the patch is missing or undone.
describe("mqtt-packet's remaining-length cache (patched at install)", () => {
  it("keeps each cached length in a buffer of its own, not a slice of a pool block", () => {
    const chunks: Buffer[] = [];
    // What writeToStream uses of a stream, synchronous (a real Writable delivers corked writes later).
    const sink = { write: (chunk: Buffer) => chunks.push(chunk) > 0, cork() {}, uncork() {}, destroy(err: Error) { throw err; } } as unknown as Writable;
    // Sizes no other test or module writes first, so each is new to the cache here (and again).
    const sizes = [12_345, 12_346, 13_001];
    for (const round of [0, 1]) {
      for (const n of sizes) {
        chunks.length = 0;
        mqttPacket.writeToStream({ cmd: "publish", topic: "t/x", payload: Buffer.alloc(n), qos: 0, retain: false, dup: false }, sink);
        // The fixed header's first byte, then the remaining length (2 + topic + payload), 2 bytes here.
        const length = chunks[1];
        assert.equal(length.length, 2);
        let decoded = 0;
        for (let i = length.length - 1; i >= 0; i--) decoded = decoded * 128 + (length[i] & 0x7f);
        assert.equal(decoded, 2 + 3 + n, `round ${round}`);
        assert.ok(length.buffer.byteLength < 64, `the cached length of a ${n}-byte payload is a view of a ${length.buffer.byteLength}-byte block (round ${round})`);
      }
    }
  });
});
