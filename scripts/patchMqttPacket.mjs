#!/usr/bin/env node
// Patches mqtt-packet 9.x after install (mqtt.js and aedes write every packet through it). Idempotent.
//
// writeVarByteInt caches the encoded MQTT remaining length of every packet size below 16384 it
// has written, for good. Each cached value is a 1-4 byte slice of Node's shared Buffer pool
// (genBufVariableByteInt uses Buffer.allocUnsafe), and a slice keeps its whole pool block alive:
// every new packet size pins Buffer.poolSize bytes (8 KiB on Node 20) of otherwise dead memory.
// The daemon's results and thumbnails come in ever new sizes, so the cache pinned ~0.6 MB more
// every minute of a soak (heap snapshots and the soak's --gc-probe, fifteenth session; up to
// 16384 x 8 KiB = 128 MiB in the end). Reported upstream as mqttjs/mqtt-packet#163. The patch
// caches an unpooled copy (4 bytes in its own ArrayBuffer) instead; what is written is the same.
// test/publish/mqttPacketCache.test.ts fails if the patch is missing.
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const MARK = "/* linewatch: cache an unpooled copy (scripts/patchMqttPacket.mjs) */";
const ORIGINAL = "    if (num < 16384) varByteIntCache[num] = buffer\n";
const PATCHED = `    ${MARK}\n    if (num < 16384) {\n      const own = Buffer.allocUnsafeSlow(buffer.length)\n      buffer.copy(own)\n      varByteIntCache[num] = buffer = own\n    }\n`;

let dir;
try {
  dir = dirname(createRequire(import.meta.url).resolve("mqtt-packet/package.json"));
} catch {
  console.log("patchMqttPacket: mqtt-packet is not installed; nothing to patch");
  process.exit(0);
}
const file = join(dir, "writeToStream.js");
const text = readFileSync(file, "utf8");
if (text.includes(MARK)) {
  console.log(`patchMqttPacket: ${file} already patched`);
} else if (text.includes(ORIGINAL)) {
  writeFileSync(file, text.replace(ORIGINAL, PATCHED));
  console.log(`patchMqttPacket: patched ${file} (varByteIntCache keeps unpooled copies)`);
} else {
  // A newer mqtt-packet may have fixed it (or moved the code): the unit test says which.
  console.warn(`patchMqttPacket: ${file} does not have the expected varByteIntCache line; not patched (check mqttjs/mqtt-packet#163)`);
}
