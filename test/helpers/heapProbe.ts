import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { RunningDaemon } from "./daemon.js";

/** The built preload that answers {@link HeapProbe.read}; integration tests run dist/, as cliPath does. */
const preloadPath = resolve("dist/test/helpers/heapProbePreload.js");

/** Reads a daemon's memory after a full GC. */
export interface HeapProbe {
  /** Environment for startDaemon(): --expose-gc and the preload, added to any NODE_OPTIONS already set. */
  env: NodeJS.ProcessEnv;
  /** The daemon's `process.memoryUsage()` right after a full GC, bytes; rejects after `ms`. */
  read(d: RunningDaemon, ms?: number): Promise<NodeJS.MemoryUsage>;
}

/**
 * A probe of the daemon's JS heap. RSS alone cannot tell a leak from V8 resizing its heap (the
 * heap's total swings by tens of MB with no garbage kept) or from the allocator keeping freed
 * pages; the heap in use after a full GC only grows when something keeps objects alive.
 */
export function heapProbe(): HeapProbe {
  const file = join(mkdtempSync(join(tmpdir(), "lw-heap-")), "heap.json");
  return {
    env: {
      NODE_OPTIONS: [process.env.NODE_OPTIONS, "--expose-gc", `--import=${pathToFileURL(preloadPath).href}`].filter(Boolean).join(" "),
      LINEWATCH_TEST_HEAP_FILE: file,
    },
    async read(d, ms = 10_000) {
      rmSync(file, { force: true });
      d.proc.kill("SIGUSR2");
      for (const end = Date.now() + ms; !existsSync(file); await new Promise((r) => setTimeout(r, 20))) {
        if (Date.now() > end) throw new Error(`the daemon wrote no heap figures within ${ms} ms; stderr: ${d.stderr()}`);
      }
      return JSON.parse(readFileSync(file, "utf8")) as NodeJS.MemoryUsage;
    },
  };
}
