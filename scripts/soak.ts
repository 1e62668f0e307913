/**
 * Soak benchmark (not in CI): `npm run soak -- --minutes N [--interval S] [--width W --height H] [--workers N] [--archive-mb MB (0: off)] [--cpu-prof DIR] [--gc-probe]`.
 * Runs the built daemon with two test cameras at full rate against a real mosquitto, and prints
 * its RSS, V8 heap, external (ArrayBuffer) memory, open file descriptors and event-loop lag over
 * time, with progress and ETA. Passes (exit 0) when the RSS at the end is within 10 % of the RSS
 * after the first minute. `--cpu-prof DIR` has the daemon write V8 CPU profiles (main thread and
 * workers) into DIR when it stops; `node scripts/longTasks.mjs FILE` summarises where the main
 * thread's long tasks (the event-loop lag) go.
 * Ctrl-C (SIGINT) or SIGTERM ends it early: the daemon and the broker are stopped and the RSS
 * verdict is given for the minutes run.
 * Run `npx tsc -p .` first: it measures what a user runs.
 */
import { readdirSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { connect } from "mqtt";
import { freePort, startMosquitto } from "../test/helpers/mosquitto.js";
import { startDaemon } from "../test/helpers/daemon.js";
import { heapProbe } from "../test/helpers/heapProbe.js";
import { unitRuntime } from "./unitRuntime.js";

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "30" },
    interval: { type: "string", default: "30" },
    width: { type: "string", default: "640" },
    height: { type: "string", default: "480" },
    workers: { type: "string", default: "0" },
    "archive-mb": { type: "string", default: "16" },
    "cpu-prof": { type: "string" },
    "gc-probe": { type: "boolean", default: false },
  },
});
const minutes = Number(values.minutes);
const intervalS = Number(values.interval);
const MB = 1024 * 1024;

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : NaN;
}

function metric(text: string, name: string, labels = ""): number {
  const m = new RegExp(`^${name}${labels.replace(/[{}]/g, "\\$&")} ([0-9.eE+-]+)$`, "m").exec(text);
  return m ? Number(m[1]) : NaN;
}

const fmt = (s: number) => `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, "0")}s`;

async function main(): Promise<number> {
  // Stopped early, the daemon and mosquitto (its children) would otherwise outlive the soak.
  let interrupted: NodeJS.Signals | undefined;
  let wake = () => {};
  // A second signal (an impatient Ctrl-C while the daemon stops) kills both at once instead of
  // leaving them running without the soak.
  let children: { kill(sig: NodeJS.Signals): unknown }[] = [];
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.on(sig, () => {
      if (interrupted) {
        for (const c of children) c.kill("SIGKILL");
        process.stdout.write(`soak: stopped by a second ${sig}; daemon and broker killed, no verdict\n`);
        process.exit(130);
      }
      interrupted = sig;
      wake();
    });
  }
  const broker = await startMosquitto();
  children = [broker.proc];
  const healthPort = await freePort();
  const cam = (id: string, pattern: string) => ({ id, kind: "test", pattern, width: Number(values.width), height: Number(values.height), stale_after_ms: 10_000 });
  const { nodeFlags, env: unitEnv } = unitRuntime();
  // --gc-probe: each reading also has the daemon run a full garbage collection and report its
  // memory right after it (test/helpers/heapProbe.ts), so buffers that are only waiting for the
  // collector are told from ones something keeps alive.
  const probe = values["gc-probe"] ? heapProbe() : null;
  const daemon = startDaemon({
    device_id: "soak",
    cameras: [cam("cam_a", "ball"), cam("cam_b", "smpte")],
    mqtt: { url: broker.url, thumbnail: { interval_ms: 1000 } },
    health: { port: healthPort },
    // Small by default, so that the soak also runs the archive's pruning for most of its minutes; 0: off.
    archive: Number(values["archive-mb"]) > 0 ? { max_mb: Number(values["archive-mb"]) } : { enabled: false },
    model: { providers: [{ kind: "cpu" }], workers: Number(values.workers) },
  }, { ...unitEnv, ...probe?.env }, [...nodeFlags, ...(values["cpu-prof"] ? ["--cpu-prof", `--cpu-prof-dir=${values["cpu-prof"]}`] : [])]);
  children = [daemon.proc, broker.proc];
  let results = 0;
  const sub = connect(broker.url, { clientId: "soak-sub" });
  sub.on("connect", () => sub.subscribe("linewatch/soak/+/result", { qos: 1 }));
  sub.on("message", () => results++);
  await daemon.waitForLog((l) => l.msg === "linewatch is running", 120_000);
  const pid = daemon.proc.pid!;
  const t0 = Date.now();
  const end = t0 + minutes * 60_000;
  let rssAt1: number | undefined;
  let lastRss = NaN;
  let lastResults = 0;
  let lastAt = t0;
  const loaded = daemon.logs.find((l) => l.msg === "linewatch is running");
  process.stdout.write(`soak: ${minutes} min, 2 cameras ${values.width}x${values.height} at full rate, daemon pid ${pid}, ${loaded?.workers ?? "?"} inference worker(s) of ${loaded?.threads ?? "?"} thread(s), node ${nodeFlags.join(" ") || "(no flags)"}, environment from the unit ${Object.entries(unitEnv).map(([k, v]) => `${k}=${v}`).join(" ") || "(none)"}\n`);
  process.stdout.write(`elapsed   ETA      RSS MB  heap MB  ext MB  fds  lag p99 ms  lag max ms  results/s  decided  dropped  busy  archived  pruned  arch MB  spare MB${probe ? "  heap GC MB  ext GC MB  AB GC MB" : ""}\n`);
  while (Date.now() < end && daemon.proc.exitCode === null && !interrupted) {
    await new Promise<void>((r) => {
      const t = setTimeout(r, Math.min(intervalS * 1000, Math.max(0, end - Date.now())));
      wake = () => { clearTimeout(t); r(); };
    });
    if (daemon.proc.exitCode !== null || interrupted) break;
    const text = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
    const afterGc = probe ? await probe.read(daemon) : null;
    const now = Date.now();
    lastRss = rssBytes(pid);
    if (rssAt1 === undefined && now - t0 >= 60_000) rssAt1 = lastRss;
    const fds = readdirSync(`/proc/${pid}/fd`).length;
    const decided = ["cam_a", "cam_b"].reduce((s, c) => s + metric(text, "linewatch_frames_decided_total", `{camera="${c}"}`), 0);
    const dropped = ["cam_a", "cam_b"].reduce((s, c) => s + metric(text, "linewatch_frames_dropped_total", `{camera="${c}"}`), 0);
    const rate = ((results - lastResults) * 1000) / (now - lastAt);
    lastResults = results;
    lastAt = now;
    const el = (now - t0) / 1000;
    const row = [
      fmt(el).padEnd(9), fmt(Math.max(0, (end - now) / 1000)).padEnd(8),
      (lastRss / MB).toFixed(1).padStart(6), (metric(text, "nodejs_heap_used_bytes") / MB).toFixed(1).padStart(8), (metric(text, "nodejs_external_memory_bytes") / MB).toFixed(1).padStart(7), String(fds).padStart(4),
      (metric(text, "nodejs_eventloop_lag_p99_seconds") * 1000).toFixed(1).padStart(11), (metric(text, "nodejs_eventloop_lag_max_seconds") * 1000).toFixed(1).padStart(11),
      rate.toFixed(1).padStart(10), String(decided).padStart(8), String(dropped).padStart(8),
      metric(text, "linewatch_inference_busy_ratio").toFixed(2).padStart(5),
      String(metric(text, "linewatch_archive_saved_total")).padStart(9), String(metric(text, "linewatch_archive_pruned_total")).padStart(7),
      (metric(text, "linewatch_archive_bytes") / MB).toFixed(1).padStart(8),
      (metric(text, "linewatch_inference_input_buffers_bytes") / MB).toFixed(1).padStart(9),
      ...(afterGc ? [(afterGc.heapUsed / MB).toFixed(1).padStart(10), (afterGc.external / MB).toFixed(1).padStart(9), (afterGc.arrayBuffers / MB).toFixed(1).padStart(9)] : []),
    ];
    process.stdout.write(row.join(" ") + "\n");
  }
  const crashed = daemon.proc.exitCode !== null;
  // Ctrl-C reaches the whole foreground process group, the daemon included, and a second signal
  // makes it exit at once (exit 1): give it time to stop on the first one.
  if (interrupted === "SIGINT") await Promise.race([daemon.exited, new Promise((r) => setTimeout(r, 10_000))]);
  if (daemon.proc.exitCode === null && daemon.proc.signalCode === null) daemon.proc.kill("SIGTERM");
  const exit = await daemon.exited;
  sub.end(true);
  await broker.stop();
  if (crashed) {
    process.stdout.write(`soak: FAIL: the daemon exited early (${JSON.stringify(exit)}); stderr: ${daemon.stderr()}\n`);
    return 1;
  }
  if (rssAt1 === undefined) {
    process.stdout.write("soak: too short to compare RSS (needs more than one minute)\n");
    return 0;
  }
  const growth = (lastRss - rssAt1) / rssAt1;
  const ok = Math.abs(growth) <= 0.1;
  const ranMin = interrupted ? `${((Date.now() - t0) / 60_000).toFixed(1)} min (stopped by ${interrupted})` : `${minutes} min`;
  process.stdout.write(`soak: ${ok ? "PASS" : "FAIL"}: RSS ${(rssAt1 / MB).toFixed(1)} MB after 1 min, ${(lastRss / MB).toFixed(1)} MB at ${ranMin} (${(growth * 100).toFixed(1)} %); ${results} results received; daemon exit ${exit.code}\n`);
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`soak: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
