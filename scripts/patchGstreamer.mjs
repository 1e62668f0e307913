#!/usr/bin/env node
// Patches gstreamer-superficial 1.7.x after install, then rebuilds it. Idempotent.
//
// Its bus poller waits with no timeout (gst_bus_timed_pop(bus, GST_CLOCK_TIME_NONE)) and re-queues
// itself while the pipeline is not in the NULL state. A pipeline stopped between that check and the
// next wait leaves a libuv pool thread waiting forever on a flushing bus, and process.exit() then
// blocks for ever joining the pool (uv__threadpool_cleanup): the daemon logged "stopped" but never
// exited (seen under load, about one stop in ten). A finite wait lets the poller notice the NULL
// state and end. It also leaked one bus reference per poll (gst_element_get_bus returns a new one).
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const MARK = "/* linewatch: finite bus wait */";
let dir;
try {
  dir = dirname(createRequire(import.meta.url).resolve("gstreamer-superficial/package.json"));
} catch {
  console.log("patchGstreamer: gstreamer-superficial is not installed; nothing to patch");
  process.exit(0);
}
const file = join(dir, "Pipeline.cpp");
const src = readFileSync(file, "utf8");
if (!src.includes(MARK)) {
  const from = "br->msg = gst_bus_timed_pop(bus, GST_CLOCK_TIME_NONE);";
  if (!src.includes(from)) {
    console.error(`patchGstreamer: ${file} is not the expected 1.7.x source; not patched (daemon stops may hang)`);
    process.exit(1);
  }
  writeFileSync(file, src.replace(from, `${MARK} br->msg = gst_bus_timed_pop(bus, 100 * GST_MSECOND); gst_object_unref(bus);`));
  console.log("patchGstreamer: Pipeline.cpp patched (finite bus wait)");
}
const built = join(dir, "build", "Release", "gstreamer-superficial.node");
const stamp = join(dir, "build", "linewatch-patched");
if (!existsSync(stamp) || !existsSync(built)) {
  console.log("patchGstreamer: rebuilding gstreamer-superficial");
  // Through npm, so node-gyp gets npm's settings (nodedir: headers without a download).
  execFileSync("npm", ["rebuild", "gstreamer-superficial", "--foreground-scripts"], { cwd: join(dir, "..", ".."), stdio: "inherit" });
  writeFileSync(stamp, "finite bus wait\n");
}
