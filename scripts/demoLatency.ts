/**
 * The quick start's daemon, measured (not in CI): `node --import tsx scripts/demoLatency.ts
 * [--fps N] [--seconds S] [--json]` (after `npm run build`). Runs the built daemon on
 * config/default.yaml (the demo images, the bundled model, the embedded broker) with the unit's
 * node flags and environment, a state directory of its own and free ports, optionally at another
 * frame rate, and subscribes to the results as a PLC gateway would. Prints results/s, the latency
 * from capture to the subscriber's receipt (p50/p95/p99/max), the daemon's own capture-to-decision
 * latency_ms, verdicts and dropped frames, for the window after a warm-up of 5 s.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { connect } from "mqtt";
import { parse } from "yaml";
import { quantile as q, round } from "../bench/stats.js";
import { freePort } from "../test/helpers/mosquitto.js";
import { startDaemon } from "../test/helpers/daemon.js";
import { unitRuntime } from "./unitRuntime.js";

const { values } = parseArgs({ options: { fps: { type: "string" }, seconds: { type: "string", default: "60" }, json: { type: "boolean", default: false } } });
const seconds = Number(values.seconds);
const WARMUP_MS = 5000;

const configPath = resolve("config/default.yaml");
/** The keys of config/default.yaml this script changes; the rest goes to the daemon as it is. */
interface DemoConfig {
  device_id: string;
  base_topic: string;
  state_dir?: string;
  cameras: { path?: string; fps?: number }[];
  mqtt: { embedded_port?: number };
  health: { port?: number };
}
const config = parse(readFileSync(configPath, "utf8")) as DemoConfig;
const brokerPort = await freePort();
const healthPort = await freePort();
delete config.state_dir;
for (const c of config.cameras) {
  if (c.path) c.path = resolve(dirname(configPath), c.path);
  if (values.fps) c.fps = Number(values.fps);
}
config.mqtt.embedded_port = brokerPort;
config.health.port = healthPort;
config.state_dir = mkdtempSync(join(tmpdir(), "lw-demo-state-"));
const fps = config.cameras[0].fps;

const { nodeFlags, env } = unitRuntime();
const daemon = startDaemon({ ...config }, env, nodeFlags);
const stop = async () => {
  if (daemon.proc.exitCode === null) daemon.proc.kill("SIGTERM");
  return daemon.exited;
};
process.once("SIGINT", () => void stop().then(() => process.exit(130)));

interface Got { at: number; captured: number; latency_ms: number; verdict: string }
const got: Got[] = [];
try {
  await daemon.waitForLog((l) => l.msg === "linewatch is running", 120_000);
  const sub = connect(`mqtt://127.0.0.1:${brokerPort}`, { clientId: "demo-latency", protocolVersion: 4 });
  await new Promise<void>((r) => sub.on("connect", () => sub.subscribe(`${config.base_topic}/${config.device_id}/+/result`, { qos: 1 }, () => r())));
  sub.on("message", (_t, payload) => {
    const at = Date.now();
    const r = JSON.parse(payload.toString()) as { captured_at: string; latency_ms: number; verdict: string };
    got.push({ at, captured: Date.parse(r.captured_at), latency_ms: r.latency_ms, verdict: r.verdict });
  });
  const t0 = Date.now();
  const end = t0 + WARMUP_MS + seconds * 1000;
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, Math.min(10_000, end - Date.now())));
    const left = Math.max(0, (end - Date.now()) / 1000);
    if (!values.json) process.stderr.write(`${((Date.now() - t0) / 1000).toFixed(0)} s, ${got.length} results, ETA ${left.toFixed(0)} s\n`);
  }
  const metrics = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
  const dropped = [...metrics.matchAll(/^linewatch_frames_dropped_total\{[^}]*\} (\d+)/gm)].reduce((a, m) => a + Number(m[1]), 0);
  sub.end(true);
  const w = got.filter((g) => g.at >= t0 + WARMUP_MS);
  const receipt = w.map((g) => g.at - g.captured);
  const decided = w.map((g) => g.latency_ms);
  const span = w.length > 1 ? (w[w.length - 1].at - w[0].at) / 1000 : NaN;
  const out = {
    fps,
    seconds,
    results: w.length,
    results_per_s: round((w.length - 1) / span),
    receipt_ms: { p50: q(receipt, 0.5), p95: q(receipt, 0.95), p99: q(receipt, 0.99), max: Math.max(...receipt) },
    decided_ms: { p50: round(q(decided, 0.5), 1), p99: round(q(decided, 0.99), 1) },
    fail: w.filter((g) => g.verdict === "fail").length,
    dropped,
  };
  if (values.json) process.stdout.write(`${JSON.stringify(out)}\n`);
  else {
    process.stdout.write(
      `demo at ${fps} fps, ${out.results} results in ${seconds} s after warm-up (${out.results_per_s}/s), ${out.fail} fail, ${dropped} dropped\n` +
        `capture to the subscriber's receipt: p50 ${out.receipt_ms.p50} ms, p95 ${out.receipt_ms.p95}, p99 ${out.receipt_ms.p99}, max ${out.receipt_ms.max}\n` +
        `capture to decision (the result's latency_ms): p50 ${out.decided_ms.p50} ms, p99 ${out.decided_ms.p99}\n`,
    );
  }
} finally {
  const exit = await stop();
  if (exit.code !== 0) process.stderr.write(`daemon exit ${JSON.stringify(exit)}; stderr: ${daemon.stderr().slice(-2000)}\n`);
}
