import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import { allocator } from "./allocator.js";
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

/** What the worker sends back: systeminformation's raw figures, null where a reader failed. */
interface RawSystem {
  load: number | null;
  total: number | null;
  available: number | null;
  temp: number | null;
}

/**
 * systeminformation runs in a worker thread of its own: on Linux its CPU load and temperature
 * readers spawn a shell synchronously (execSync of `cat /proc/stat | grep cpu` and of a `cat
 * /sys/class/thermal/...` line), which stalled the daemon's event loop 11-15 ms at every refresh
 * on an idle 2-core box and more under load. Plain CommonJS, evaluated, so it needs no build step.
 */
const WORKER_CODE = `
const { parentPort } = require("node:worker_threads");
const si = require(${JSON.stringify(createRequire(import.meta.url).resolve("systeminformation"))});
parentPort.on("message", async () => {
  const [load, mem, temp] = await Promise.allSettled([si.currentLoad(), si.mem(), si.cpuTemperature()]);
  const ok = (r, f) => (r.status === "fulfilled" ? f(r.value) : null);
  parentPort.postMessage({
    load: ok(load, (v) => v.currentLoad),
    total: ok(mem, (v) => v.total),
    available: ok(mem, (v) => v.available),
    temp: ok(temp, (v) => v.main),
  });
});
`;

/** Reads the box's figures through one lazily started, unref'd worker; restarts it if it dies. */
class SystemReader {
  private worker: Worker | null = null;
  private waiting: { resolve: (r: RawSystem) => void; reject: (e: Error) => void } | null = null;

  /** One reading; a worker that has not answered within `timeoutMs` is ended and the next read starts another. */
  read(timeoutMs = 10_000): Promise<SystemSnapshot> {
    return new Promise<RawSystem>((resolve, reject) => {
      const w = this.ensure();
      const timer = setTimeout(() => {
        // Forget the worker first, so its exit cannot reach a reading asked of the next one.
        if (this.worker === w) this.worker = null;
        this.waiting = null;
        void w.terminate();
        reject(new Error(`systeminformation did not answer within ${timeoutMs} ms`));
      }, timeoutMs).unref();
      // Held (ref'd) only while a reading is asked for, so an idle worker never keeps the process up.
      const done = () => (clearTimeout(timer), w.unref());
      this.waiting = {
        resolve: (r) => (done(), resolve(r)),
        reject: (e) => (done(), reject(e)),
      };
      w.ref();
      w.postMessage("read");
    }).then((r) => ({
      cpu_load_percent: finite(r.load),
      memory_total_bytes: finite(r.total),
      memory_available_bytes: finite(r.available),
      cpu_temperature_celsius: finite(r.temp),
    }));
  }

  private ensure(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(WORKER_CODE, { eval: true });
    const fail = (err: Error) => {
      if (this.worker !== w) return;
      this.worker = null;
      this.waiting?.reject(err);
      this.waiting = null;
    };
    w.on("message", (r: RawSystem) => {
      if (this.worker !== w) return;
      this.waiting?.resolve(r);
      this.waiting = null;
    });
    w.on("error", fail);
    w.on("exit", (code) => fail(new Error(`system metrics worker exited (${code})`)));
    // After the listeners: adding a "message" listener refs the worker's port again.
    w.unref();
    this.worker = w;
    return w;
  }
}

/**
 * A collector of CPU load, memory and CPU temperature (where the box reports them) from
 * systeminformation (in a worker thread, see WORKER_CODE), plus this process's memory and
 * uptime. systeminformation calls can take hundreds of ms, so they are cached for `ttl_ms` and
 * refreshed in the background: a scrape never waits for them except the first.
 */
export function systemCollector(opts: SystemCollectorOptions = {}): Collector {
  const ttl = opts.ttl_ms ?? 5000;
  let snapshot: SystemSnapshot | undefined;
  let readAt = 0;
  let pending: Promise<void> | undefined;
  const reader = new SystemReader();
  const refresh = () =>
    (pending ??= reader
      .read()
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
      ...gauge("nodejs_external_memory_bytes", "Memory outside the V8 heap held by JS objects (frame buffers, batch inputs), bytes", mem.external),
      ...gauge("nodejs_array_buffers_bytes", "Memory of ArrayBuffers and Buffers (part of the external memory), bytes", mem.arrayBuffers),
      ...gauge("process_uptime_seconds", "Seconds since linewatch started", process.uptime()),
      { name: "linewatch_memory_allocator_info", help: "The malloc linewatch runs on: jemalloc when preloaded (README, Deployment), else system; always 1", type: "gauge", samples: [{ labels: { allocator: allocator() }, value: 1 }] },
    ];
  };
}
