import sharp from "sharp";
import type { ScenarioResult } from "./scenario.js";

const W = 900, H = 440, PAD = 60;

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
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
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${W / 2}" y="16" text-anchor="middle" font-size="11" fill="#555">${esc(subtitle)}</text>
${panel(PAD, "Throughput, tiles/s", labels, [
    { name: "pipeline", color: "#3b7dd8", values: scenarios.map((s) => s.tiles_per_s) },
    { name: "raw around it", color: "#bbb", values: scenarios.map((s) => s.raw_tiles_per_s) },
  ], { value: rawTilesPerS, label: `raw mean ${rawTilesPerS.toFixed(1)}` })}
${panel(W / 2 + PAD / 2, "Latency capture->decision, ms", labels, [
    { name: "p50", color: "#8fbf5a", values: scenarios.map((s) => s.p50_ms) },
    { name: "p99", color: "#e08a2c", values: scenarios.map((s) => s.p99_ms) },
    { name: "budget", color: "#999", values: scenarios.map((s) => s.latency_budget_ms) },
  ])}
</svg>`;
  await sharp(Buffer.from(svg)).png().toFile(file);
}
