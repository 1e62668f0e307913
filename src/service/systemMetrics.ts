import si from "systeminformation";
import type { CollectedMetric, Collector } from "./metrics.js";

/** The box's figures as last read from systeminformation. */
interface SystemSnapshot {
  cpu_load_percent?: number;
  memory_total_bytes?: number;
  memory_available_bytes?: number;
  /** Missing where the box reports no sensor (VMs, many containers). */
  cpu_temperature_celsius?: number;
}

/** Options of {@link systemCollector}. */
export interface SystemCollectorOptions {
  /** systeminformation is read at most once per this many ms; scrapes in between get the cached values. Default 5000. */
  ttl_ms?: number;
  /** The first scrape waits at most this long, in ms, for systeminformation. Default 2000. */
  first_wait_ms?: number;
}

function finite(v: number | null | undefined): number | undefined {
  return typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : undefined;
}

async function readSystem(): Promise<SystemSnapshot> {
  const [load, mem, temp] = await Promise.allSettled([si.currentLoad(), si.mem(), si.cpuTemperature()]);
  const s: SystemSnapshot = {};
  if (load.status === "fulfilled") s.cpu_load_percent = finite(load.value.currentLoad);
  if (mem.status === "fulfilled") {
    s.memory_total_bytes = finite(mem.value.total);
    s.memory_available_bytes = finite(mem.value.available);
  }
  if (temp.status === "fulfilled") s.cpu_temperature_celsius = finite(temp.value.main);
  return s;
}

/**
 * A collector of CPU load, memory and CPU temperature (where the box reports them) from
 * systeminformation, plus this process's memory and uptime. systeminformation calls can take
 * hundreds of ms, so they are cached for `ttl_ms` and refreshed in the background: a scrape
 * never waits for them except the first.
 */
export function systemCollector(opts: SystemCollectorOptions = {}): Collector {
  const ttl = opts.ttl_ms ?? 5000;
  let snapshot: SystemSnapshot | undefined;
  let readAt = 0;
  let pending: Promise<void> | undefined;
  const refresh = () =>
    (pending ??= readSystem()
      .then((s) => ((snapshot = s), (readAt = Date.now())))
      .catch(() => undefined)
      .then(() => (pending = undefined)));
  return async () => {
    if (!snapshot) await Promise.race([refresh(), new Promise((r) => setTimeout(r, opts.first_wait_ms ?? 2000).unref())]);
    else if (Date.now() - readAt > ttl) void refresh();
    const s = snapshot ?? {};
    const gauge = (name: string, help: string, value: number | undefined): CollectedMetric[] => (value === undefined ? [] : [{ name, help, type: "gauge", samples: [{ value }] }]);
    const mem = process.memoryUsage();
    return [
      ...gauge("linewatch_system_cpu_load_percent", "CPU load of the whole box, %", s.cpu_load_percent),
      ...gauge("linewatch_system_memory_total_bytes", "Memory of the box, bytes", s.memory_total_bytes),
      ...gauge("linewatch_system_memory_available_bytes", "Memory available to new processes, bytes", s.memory_available_bytes),
      ...gauge("linewatch_system_cpu_temperature_celsius", "CPU package temperature, degrees Celsius", s.cpu_temperature_celsius),
      ...gauge("process_resident_memory_bytes", "Resident memory of linewatch, bytes", mem.rss),
      ...gauge("nodejs_heap_used_bytes", "V8 heap in use, bytes", mem.heapUsed),
      ...gauge("process_uptime_seconds", "Seconds since linewatch started", process.uptime()),
    ];
  };
}
