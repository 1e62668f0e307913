/** Small statistics helpers for the bench. */
import { readFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";

/** The q-quantile (0..1) of `values` by nearest rank; NaN when empty. Sorts a copy. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

/** Arithmetic mean; NaN when empty. */
export function mean(values: readonly number[]): number {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN;
}

/** Rounds to `d` decimals (keeps JSON short). */
export function round(v: number, d = 2): number {
  const k = 10 ** d;
  return Math.round(v * k) / k;
}

/** Resident set size now, MiB. */
export function rssMb(): number {
  return round(process.memoryUsage().rss / 2 ** 20, 1);
}

/** 1-minute load average and core count, for stating contention next to each figure. */
export function loadNow(): { load1: number; cores: number } {
  return { load1: round(loadavg()[0], 2), cores: availableParallelism() };
}

/** Sampling interval of the event-loop lag monitor, ms. */
const LAG_RESOLUTION_MS = 5;

/**
 * An event-loop lag monitor. Node's histogram records the time between its timer's ticks, which
 * includes the interval itself (an idle loop reads p50 = 5.1 ms at a 5 ms resolution): the lag is
 * that minus the interval.
 */
export function lagMonitor(): { stop: () => void; p99: () => number } {
  const h = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
  h.enable();
  return { stop: () => h.disable(), p99: () => round(Math.max(0, h.percentile(99) / 1e6 - LAG_RESOLUTION_MS), 1) };
}

/**
 * CPU seconds the main thread has used (Linux: utime + stime of /proc/self/task/<pid>/stat, in
 * clock ticks of 10 ms); NaN elsewhere. process.cpuUsage() would count the inference threads too.
 */
export function mainThreadCpuS(): number {
  try {
    const f = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}

/** Cumulative CPU ticks of the whole box (Linux /proc/stat): all, and stolen by the hypervisor. */
function cpuTicks(): { total: number; steal: number } {
  try {
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already inside user).
    return { total: f.slice(0, 8).reduce((a, b) => a + b, 0), steal: f[7] ?? 0 };
  } catch {
    return { total: NaN, steal: NaN };
  }
}

/**
 * Share of the box's CPU time the hypervisor gave to other guests between start() and the call
 * of the function it returns: on a shared VM this moves the raw throughput by tens of per cent
 * within minutes, so every figure carries it. NaN off Linux.
 */
export function stealMeter(): () => number {
  const t0 = cpuTicks();
  return () => {
    const t1 = cpuTicks();
    return round((t1.steal - t0.steal) / Math.max(1, t1.total - t0.total), 3);
  };
}
