import { readFileSync } from "node:fs";

/** The malloc this process allocates with. */
export type Allocator = "jemalloc" | "system" | "unknown";

let cached: Allocator | undefined;

/**
 * Which malloc the process runs on: "jemalloc" when libjemalloc is mapped (an operator may preload
 * it, README "Deployment": lower RSS for a few percent of throughput), "system" otherwise,
 * "unknown" where /proc/self/maps cannot be read. Logged at start and exported as a metric, so a
 * maintainer sees whether a preload took.
 */
export function allocator(): Allocator {
  if (cached) return cached;
  let maps: string;
  try {
    maps = readFileSync("/proc/self/maps", "utf8");
  } catch {
    return (cached = "unknown");
  }
  return (cached = /\/libjemalloc\.so[.\d]*$/m.test(maps) ? "jemalloc" : "system");
}
