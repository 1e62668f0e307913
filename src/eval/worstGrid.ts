/**
 * worst.png: the cases a person should look at first, one row each: the highest-scoring good
 * images (false alarms to be) and the lowest-scoring defective images (misses to be), showing
 * image, truth mask, anomaly map as a heat map and the mask predicted at the pixel threshold.
 * A defective image labelled per image only has no truth mask: its truth cell is grey and says
 * "no mask" (an all-black cell would read as "no defect").
 */
import sharp, { type OverlayOptions } from "sharp";
import { fmt, xmlEscape } from "./curvesPlot.js";
import { loadImage } from "./loadImage.js";
import type { ImageResult, Thresholds } from "./metrics.js";

/** The worst cases, each list worst first. */
export interface WorstCases {
  /** Good images by descending score. */
  good: ImageResult[];
  /** Defective images by ascending score. */
  defective: ImageResult[];
}

/** Pick up to `count` worst good and `count` worst defective images. */
export function worstCases(results: readonly ImageResult[], count: number): WorstCases {
  return {
    good: results.filter((r) => !r.defective).sort((a, b) => b.score - a.score).slice(0, count),
    defective: results.filter((r) => r.defective).sort((a, b) => a.score - b.score).slice(0, count),
  };
}

const CELL = 160;
const GAP = 6;
const LABEL = 240;
const HEADER = 28;
const COLUMNS = ["image", "truth", "anomaly map", "predicted mask"];
const BG = { r: 40, g: 40, b: 40 };
/** Grey of the truth cell of a defective image without a mask. */
const NO_MASK = 128;

/** A black -> purple -> red -> yellow -> white ramp, t in 0..1, as RGB bytes. */
export function heatColour(t: number): [number, number, number] {
  const stops: [number, number, number][] = [
    [0, 0, 0],
    [90, 20, 140],
    [220, 40, 40],
    [250, 200, 30],
    [255, 255, 255],
  ];
  const u = Math.min(Math.max(Number.isFinite(t) ? t : 0, 0), 1) * (stops.length - 1);
  const i = Math.min(Math.floor(u), stops.length - 2);
  const f = u - i;
  const [a, b] = [stops[i], stops[i + 1]];
  return [0, 1, 2].map((c) => Math.round(a[c] + f * (b[c] - a[c]))) as [number, number, number];
}

async function fitCell(raw: Uint8Array, width: number, height: number, channels: 1 | 3): Promise<Buffer> {
  return sharp(raw, { raw: { width, height, channels } })
    .resize(CELL, CELL, { fit: "contain", background: BG })
    .png()
    .toBuffer();
}

async function rowCells(r: ImageResult, lo: number, hi: number, pixelThreshold: number): Promise<Buffer[]> {
  const n = r.width * r.height;
  const image = await loadImage(r.path);
  const truth = new Uint8Array(n).fill(r.defective && r.mask === null ? NO_MASK : 0);
  if (r.mask !== null) for (let k = 0; k < n; k++) truth[k] = r.mask[k] !== 0 ? 255 : 0;
  const heat = new Uint8Array(n * 3);
  const pred = new Uint8Array(n);
  for (let k = 0; k < n; k++) {
    heat.set(heatColour((r.map[k] - lo) / (hi - lo || 1)), k * 3);
    pred[k] = r.map[k] >= pixelThreshold ? 255 : 0;
  }
  return Promise.all([
    fitCell(image.data, image.width, image.height, image.channels),
    fitCell(truth, r.width, r.height, 1),
    fitCell(heat, r.width, r.height, 3),
    fitCell(pred, r.width, r.height, 1),
  ]);
}

/**
 * Compose worst.png. The heat map shares one colour range over all rows (the lowest and
 * highest map value shown), so rows compare; the range is printed in the header.
 * @returns PNG bytes
 */
export async function renderWorstGrid(cases: WorstCases, thresholds: Thresholds): Promise<Buffer> {
  const sections: [string, ImageResult[]][] = [
    ["Highest-scoring good images", cases.good],
    ["Lowest-scoring defective images", cases.defective],
  ];
  let lo = Infinity;
  let hi = -Infinity;
  for (const r of [...cases.good, ...cases.defective]) {
    for (let k = 0; k < r.map.length; k++) {
      lo = Math.min(lo, r.map[k]);
      hi = Math.max(hi, r.map[k]);
    }
  }
  const width = LABEL + COLUMNS.length * (CELL + GAP) + GAP;
  const overlays: OverlayOptions[] = [];
  const text: string[] = [];
  let y = HEADER;
  text.push(`<text x="8" y="18" font-weight="bold">Heat map range ${fmt(lo)} .. ${fmt(hi)}; pixel threshold ${fmt(thresholds.pixel)}, image threshold ${fmt(thresholds.image)}</text>`);
  for (const [title, rows] of sections) {
    text.push(`<text x="8" y="${y + 18}" font-weight="bold" font-size="15">${xmlEscape(title)}${rows.length === 0 ? " (none)" : ""}</text>`);
    COLUMNS.forEach((c, i) => text.push(`<text x="${LABEL + GAP + i * (CELL + GAP) + CELL / 2}" y="${y + 18}" text-anchor="middle">${c}</text>`));
    y += HEADER;
    for (const r of rows) {
      const cells = await rowCells(r, lo, hi, thresholds.pixel);
      cells.forEach((input, i) => overlays.push({ input, left: LABEL + GAP + i * (CELL + GAP), top: y }));
      if (r.defective && r.mask === null) {
        text.push(`<text x="${LABEL + 2 * GAP + CELL + CELL / 2}" y="${y + CELL / 2 + 5}" text-anchor="middle" fill="#111" font-weight="bold">no mask</text>`);
      }
      text.push(`<text x="8" y="${y + 24}">${xmlEscape(r.type)}</text>`);
      text.push(`<text x="8" y="${y + 44}">${xmlEscape(r.name.length > 30 ? `${r.name.slice(0, 29)}…` : r.name)}</text>`);
      text.push(`<text x="8" y="${y + 64}">score ${fmt(r.score)}</text>`);
      y += CELL + GAP;
    }
  }
  const height = y + GAP;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, sans-serif" font-size="13" fill="#eee">${text.join("")}</svg>`;
  overlays.push({ input: Buffer.from(svg), left: 0, top: 0 });
  return sharp({ create: { width, height, channels: 3, background: { r: 24, g: 24, b: 24 } } })
    .composite(overlays)
    .png()
    .toBuffer();
}
