#!/usr/bin/env node
// Where a thread's long tasks go, from a V8 CPU profile (`node --cpu-prof`, or `npm run soak --
// --cpu-prof DIR`): `node scripts/longTasks.mjs FILE [--over MS] [--top N]`.
//
// Event-loop lag is the length of the longest uninterrupted stretches of work. This cuts the
// profile's samples into tasks at every idle sample, keeps the tasks longer than --over ms
// (default 8), and prints the functions that take their time, by self time and by inclusive
// time, plus a histogram of all task lengths. Sampling is 1 ms by default, so lengths are to
// about a millisecond, and the profiler's own overhead makes every task somewhat longer.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { over: { type: "string", default: "8" }, top: { type: "string", default: "25" } },
});
if (positionals.length !== 1) {
  console.error("usage: node scripts/longTasks.mjs FILE.cpuprofile [--over MS] [--top N]");
  process.exit(2);
}
const profile = JSON.parse(readFileSync(positionals[0], "utf8"));
const overUs = Number(values.over) * 1000;
const top = Number(values.top);

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const label = (n) => {
  const f = n.callFrame;
  return `${f.functionName || "(anonymous)"} ${f.url.split("/").slice(-2).join("/")}:${f.lineNumber + 1}`;
};
const isIdle = (n) => n.callFrame.functionName === "(idle)" || n.callFrame.functionName === "(program)";

// Tasks: maximal runs of non-idle samples.
const tasks = [];
let t = profile.startTime;
let current = null;
profile.samples.forEach((id, i) => {
  t += profile.timeDeltas[i];
  const node = byId.get(id);
  if (isIdle(node)) {
    if (current) tasks.push(current);
    current = null;
    return;
  }
  current ??= { start: t, end: t, samples: [] };
  current.end = t;
  current.samples.push([id, profile.timeDeltas[i]]);
});
if (current) tasks.push(current);

const long = tasks.filter((k) => k.end - k.start > overUs);
const self = new Map();
const inclusive = new Map();
let total = 0;
for (const k of long) {
  for (const [id, dt] of k.samples) {
    total += dt;
    const name = label(byId.get(id));
    self.set(name, (self.get(name) ?? 0) + dt);
    const seen = new Set();
    for (let p = id; p !== undefined; p = parent.get(p)) {
      const n = label(byId.get(p));
      if (seen.has(n)) continue;
      seen.add(n);
      inclusive.set(n, (inclusive.get(n) ?? 0) + dt);
    }
  }
}

const span = (t - profile.startTime) / 1e6;
const ms = (us) => (us / 1000).toFixed(0).padStart(7);
console.log(`${positionals[0]}: ${span.toFixed(1)} s profiled, ${tasks.length} tasks, ${long.length} longer than ${values.over} ms, ${(total / 1000).toFixed(0)} ms in them`);
const buckets = [[2, "<2 ms"], [5, "2-5"], [10, "5-10"], [20, "10-20"], [Infinity, ">20"]];
const hist = buckets.map(([, name]) => [name, 0]);
for (const k of tasks) {
  const d = (k.end - k.start) / 1000;
  hist[buckets.findIndex(([lim]) => d < lim)][1]++;
}
console.log(`task lengths: ${hist.map(([n, c]) => `${n}: ${c}`).join(", ")}`);
console.log(`\nself time in long tasks, ms`);
for (const [name, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${ms(us)}  ${name}`);
console.log(`\ninclusive time in long tasks, ms`);
for (const [name, us] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${ms(us)}  ${name}`);
