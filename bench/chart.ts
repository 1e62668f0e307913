import sharp from "sharp";
import type { ScenarioResult } from "./scenario.js";

const W = 900, H = 440, PAD = 60;

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
}

/** A whole chart: the white page, the subtitle at the top, and `body`. */
function page(subtitle: string, body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${W / 2}" y="16" text-anchor="middle" font-size="11" fill="#555">${esc(subtitle)}</text>
${body}
</svg>`;
}

/** One bar panel: groups of bars per scenario, an optional dashed reference line. */
function panel(x0: number, title: string, labels: string[], series: { name: string; color: string; values: number[] }[], ref?: { value: number; label: string }): string {
  const w = W / 2 - PAD * 1.5, h = H - PAD * 2;
  const max = Math.max(1e-9, ...series.flatMap((s) => s.values.filter(Number.isFinite)), ref?.value ?? 0) * 1.1;
  const y = (v: number) => PAD + h - (h * v) / max;
  const gw = w / labels.length, bw = (gw * 0.8) / series.length;
  let svg = `<text x="${x0 + w / 2}" y="${PAD - 30}" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`;
  svg += `<line x1="${x0}" y1="${PAD + h}" x2="${x0 + w}" y2="${PAD + h}" stroke="#333"/><line x1="${x0}" y1="${PAD}" x2="${x0}" y2="${PAD + h}" stroke="#333"/>`;
  for (let t = 0; t <= 4; t++) svg += `<text x="${x0 - 5}" y="${y((max / 1.1) * (t / 4)) + 4}" text-anchor="end" font-size="10">${((max / 1.1) * (t / 4)).toFixed(0)}</text>`;
  labels.forEach((l, i) => {
    series.forEach((s, j) => {
      const v = Number.isFinite(s.values[i]) ? s.values[i] : 0;
      svg += `<rect x="${x0 + i * gw + gw * 0.1 + j * bw}" y="${y(v)}" width="${bw - 1}" height="${PAD + h - y(v)}" fill="${s.color}"/>`;
    });
    // More groups than fit side by side (--repeat): labels slanted so they do not overlap.
    const lx = x0 + i * gw + gw / 2, ly = PAD + h + 14;
    svg += labels.length > 6
      ? `<text x="${lx}" y="${ly}" text-anchor="end" font-size="10" transform="rotate(-35 ${lx} ${ly})">${esc(l)}</text>`
      : `<text x="${lx}" y="${ly}" text-anchor="middle" font-size="10">${esc(l)}</text>`;
  });
  if (ref) svg += `<line x1="${x0}" y1="${y(ref.value)}" x2="${x0 + w}" y2="${y(ref.value)}" stroke="#c00" stroke-dasharray="5,4"/><text x="${x0 + w}" y="${y(ref.value) - 4}" text-anchor="end" font-size="10" fill="#c00">${esc(ref.label)}</text>`;
  series.forEach((s, j) => (svg += `<rect x="${x0 + j * 110}" y="${H - 22}" width="10" height="10" fill="${s.color}"/><text x="${x0 + j * 110 + 14}" y="${H - 13}" font-size="11">${esc(s.name)}</text>`));
  return svg;
}

/** Writes a PNG of throughput (beside the raw loops around each scenario, and their mean) and latency per scenario. */
export async function writeChart(file: string, scenarios: readonly ScenarioResult[], rawTilesPerS: number, subtitle: string): Promise<void> {
  const labels = scenarios.map((s) => `${s.cameras}x${s.height}p`);
  const svg = page(subtitle, `${panel(PAD, "Throughput, tiles/s", labels, [
    { name: "pipeline", color: "#3b7dd8", values: scenarios.map((s) => s.tiles_per_s) },
    { name: "raw around it", color: "#bbb", values: scenarios.map((s) => s.raw_tiles_per_s) },
  ], { value: rawTilesPerS, label: `raw mean ${rawTilesPerS.toFixed(1)}` })}
${panel(W / 2 + PAD / 2, "Latency capture->decision, ms", labels, [
    { name: "p50", color: "#8fbf5a", values: scenarios.map((s) => s.p50_ms) },
    { name: "p99", color: "#e08a2c", values: scenarios.map((s) => s.p99_ms) },
    { name: "budget", color: "#999", values: scenarios.map((s) => s.latency_budget_ms) },
  ])}`);
  await sharp(Buffer.from(svg)).png().toFile(file);
}

/** One memory reading of a trace: seconds since the trace began, and MB. */
export interface MemorySample {
  t: number;
  rss: number;
  heap_used: number;
  array_buffers: number;
}

/**
 * Writes a PNG of memory over time (RSS, ArrayBuffers, JS heap in use), with the measured
 * window's start marked: whether RSS climbs or holds is what one looks for.
 */
export async function writeMemoryChart(file: string, samples: readonly MemorySample[], windowStartS: number, subtitle: string): Promise<void> {
  const w = W - PAD * 2, h = H - PAD * 2;
  const tMax = Math.max(1, ...samples.map((s) => s.t));
  const vMax = Math.max(1, ...samples.map((s) => s.rss)) * 1.1;
  const x = (t: number) => PAD + (w * t) / tMax;
  const y = (v: number) => PAD + h - (h * v) / vMax;
  const series = [
    { name: "RSS", color: "#3b7dd8", pick: (s: MemorySample) => s.rss },
    { name: "ArrayBuffers", color: "#e08a2c", pick: (s: MemorySample) => s.array_buffers },
    { name: "JS heap used", color: "#8fbf5a", pick: (s: MemorySample) => s.heap_used },
  ];
  let svg = `<text x="${W / 2}" y="${PAD - 30}" text-anchor="middle" font-size="15" font-weight="bold">Memory over time, MB</text>
<line x1="${PAD}" y1="${PAD + h}" x2="${PAD + w}" y2="${PAD + h}" stroke="#333"/><line x1="${PAD}" y1="${PAD}" x2="${PAD}" y2="${PAD + h}" stroke="#333"/>`;
  for (let k = 0; k <= 4; k++) {
    const v = (vMax / 1.1) * (k / 4), t = (tMax * k) / 4;
    svg += `<text x="${PAD - 5}" y="${y(v) + 4}" text-anchor="end" font-size="10">${v.toFixed(0)}</text>`;
    svg += `<text x="${x(t)}" y="${PAD + h + 14}" text-anchor="middle" font-size="10">${t.toFixed(0)} s</text>`;
  }
  svg += `<line x1="${x(windowStartS)}" y1="${PAD}" x2="${x(windowStartS)}" y2="${PAD + h}" stroke="#c00" stroke-dasharray="5,4"/><text x="${x(windowStartS) + 4}" y="${PAD + 10}" font-size="10" fill="#c00">window starts</text>`;
  series.forEach((s, j) => {
    const pts = samples.map((p) => `${x(p.t).toFixed(1)},${y(s.pick(p)).toFixed(1)}`).join(" ");
    svg += `<polyline points="${pts}" fill="none" stroke="${s.color}" stroke-width="1.5"/>`;
    svg += `<rect x="${PAD + j * 130}" y="${H - 22}" width="10" height="10" fill="${s.color}"/><text x="${PAD + j * 130 + 14}" y="${H - 13}" font-size="11">${esc(s.name)}</text>`;
  });
  await sharp(Buffer.from(page(subtitle, svg))).png().toFile(file);
}

/** One step of a load curve: the workers' measured busy share and the latency at that load. */
export interface LoadPoint {
  model_busy: number;
  p50_ms: number;
  p99_ms: number;
  latency_budget_ms: number;
  dropped: number;
}

/**
 * Writes a PNG of latency against how busy the inference workers were (the daemon's
 * `linewatch_inference_busy_ratio`): p50 and p99 per load step, and the latency budget. Where p99
 * leaves the budget is the load a line should stay under.
 */
export async function writeLoadChart(file: string, points: readonly LoadPoint[], subtitle: string): Promise<void> {
  const w = W - PAD * 2, h = H - PAD * 2;
  const vMax = Math.max(1, ...points.flatMap((p) => [p.p99_ms, p.latency_budget_ms])) * 1.1;
  const x = (b: number) => PAD + w * Math.min(1, Math.max(0, b));
  const y = (v: number) => PAD + h - (h * Math.min(v, vMax)) / vMax;
  let svg = `<text x="${W / 2}" y="${PAD - 30}" text-anchor="middle" font-size="15" font-weight="bold">Latency capture->decision against inference busy share</text>
<line x1="${PAD}" y1="${PAD + h}" x2="${PAD + w}" y2="${PAD + h}" stroke="#333"/><line x1="${PAD}" y1="${PAD}" x2="${PAD}" y2="${PAD + h}" stroke="#333"/>`;
  for (let k = 0; k <= 5; k++) {
    const v = (vMax / 1.1) * (k / 5);
    svg += `<text x="${PAD - 5}" y="${y(v) + 4}" text-anchor="end" font-size="10">${v.toFixed(0)} ms</text>`;
    svg += `<text x="${x(k / 5)}" y="${PAD + h + 14}" text-anchor="middle" font-size="10">${(k / 5).toFixed(1)}</text>`;
  }
  const series = [
    { name: "p50", color: "#8fbf5a", pick: (p: LoadPoint) => p.p50_ms, dash: "" },
    { name: "p99", color: "#e08a2c", pick: (p: LoadPoint) => p.p99_ms, dash: "" },
    { name: "budget", color: "#c00", pick: (p: LoadPoint) => p.latency_budget_ms, dash: ` stroke-dasharray="5,4"` },
  ];
  const sorted = [...points].sort((a, b) => a.model_busy - b.model_busy);
  series.forEach((s, j) => {
    const pts = sorted.map((p) => `${x(p.model_busy).toFixed(1)},${y(s.pick(p)).toFixed(1)}`).join(" ");
    svg += `<polyline points="${pts}" fill="none" stroke="${s.color}" stroke-width="1.5"${s.dash}/>`;
    if (!s.dash) for (const p of sorted) svg += `<circle cx="${x(p.model_busy).toFixed(1)}" cy="${y(s.pick(p)).toFixed(1)}" r="3" fill="${s.color}"/>`;
    svg += `<rect x="${PAD + j * 110}" y="${H - 22}" width="10" height="10" fill="${s.color}"/><text x="${PAD + j * 110 + 14}" y="${H - 13}" font-size="11">${esc(s.name)}</text>`;
  });
  for (const p of sorted) if (p.dropped > 0) svg += `<text x="${x(p.model_busy)}" y="${y(p.p99_ms) - 8}" text-anchor="middle" font-size="9" fill="#555">${p.dropped} dropped</text>`;
  svg += `<text x="${PAD + w}" y="${H - 13}" text-anchor="end" font-size="11">inference busy share (1: saturated)</text>`;
  await sharp(Buffer.from(page(subtitle, svg))).png().toFile(file);
}
