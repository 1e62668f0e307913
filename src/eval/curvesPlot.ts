/**
 * curves.png: image ROC, pixel ROC and PRO curve side by side, drawn as SVG and rendered with
 * sharp (librsvg), so no plotting package is needed. The image ROC marks the shipped threshold
 * (a square) and the thresholds of the good-fail budgets (dots, operatingPoints.ts). A panel with
 * no curve (the pixel panels of a set labelled per image only) says why instead.
 */
import sharp from "sharp";
import type { EvalCurves, EvalMetrics } from "./metrics.js";
import { budgetText } from "./operatingPoints.js";
import { PRO_FPR_LIMIT } from "./proCurve.js";
import type { Curve } from "./rocCurve.js";

const PANEL = 420;
const PLOT = 300;
const LEFT = 80;
const TOP = 50;
/** What an empty pixel panel says. */
const NO_PIXEL_TRUTH = "no pixel truth (image labels only)";

/** Escape text for SVG. */
export function xmlEscape(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Format a 0..1 metric for people: three decimals, "n/a" when undefined. */
export function fmt(v: number): string {
  return Number.isFinite(v) ? v.toFixed(3) : "n/a";
}

/** Points up to xMax, the last one cut at xMax by linear interpolation. */
function clip(c: Curve, xMax: number): Curve {
  const out: Curve = { x: [], y: [] };
  for (let i = 0; i < c.x.length; i++) {
    if (c.x[i] <= xMax) {
      out.x.push(c.x[i]);
      out.y.push(c.y[i]);
      continue;
    }
    if (i > 0) {
      const f = (xMax - c.x[i - 1]) / (c.x[i] - c.x[i - 1]);
      out.x.push(xMax);
      out.y.push(c.y[i - 1] + f * (c.y[i] - c.y[i - 1]));
    }
    break;
  }
  return out;
}

/** A point drawn on a panel: a threshold's place on the image ROC. */
interface Mark {
  x: number;
  y: number;
  label: string;
  /** The shipped threshold is a square, the budgets' thresholds dots. */
  square: boolean;
}

/** The operating points on the image ROC (one mark per distinct threshold). */
function operatingMarks(metrics: EvalMetrics): Mark[] {
  const op = metrics.operating_points;
  const seen = new Set<number>();
  const marks: Mark[] = [];
  for (const p of op.budgets) {
    if (seen.has(p.threshold) || Number.isNaN(p.good_failed.rate) || Number.isNaN(p.defects_caught.rate)) continue;
    seen.add(p.threshold);
    marks.push({ x: p.good_failed.rate, y: p.defects_caught.rate, label: `<=${budgetText(p.good_fail_budget!)}`, square: false });
  }
  const s = op.shipped;
  if (!Number.isNaN(s.good_failed.rate) && !Number.isNaN(s.defects_caught.rate)) marks.push({ x: s.good_failed.rate, y: s.defects_caught.rate, label: "shipped", square: true });
  return marks;
}

function panel(index: number, title: string, curve: Curve, xMax: number, xLabel: string, yLabel: string, diagonal: boolean, empty: string, marks: Mark[] = []): string {
  const ox = index * PANEL + LEFT;
  const sx = (x: number) => ox + (x / xMax) * PLOT;
  const sy = (y: number) => TOP + PLOT - y * PLOT;
  const parts: string[] = [];
  parts.push(`<rect x="${ox}" y="${TOP}" width="${PLOT}" height="${PLOT}" fill="#fff" stroke="#333"/>`);
  for (let t = 0; t <= 5; t++) {
    const xv = (xMax * t) / 5;
    const yv = t / 5;
    parts.push(`<line x1="${sx(xv)}" y1="${TOP}" x2="${sx(xv)}" y2="${TOP + PLOT}" stroke="#ddd"/>`);
    parts.push(`<line x1="${ox}" y1="${sy(yv)}" x2="${ox + PLOT}" y2="${sy(yv)}" stroke="#ddd"/>`);
    parts.push(`<text x="${sx(xv)}" y="${TOP + PLOT + 18}" text-anchor="middle">${xv.toFixed(xMax < 1 ? 2 : 1)}</text>`);
    parts.push(`<text x="${ox - 8}" y="${sy(yv) + 4}" text-anchor="end">${yv.toFixed(1)}</text>`);
  }
  if (diagonal && curve.x.length > 0) parts.push(`<line x1="${sx(0)}" y1="${sy(0)}" x2="${sx(1)}" y2="${sy(1)}" stroke="#999" stroke-dasharray="4 4"/>`);
  const c = clip(curve, xMax);
  if (c.x.length === 0) {
    parts.push(`<text x="${ox + PLOT / 2}" y="${TOP + PLOT / 2}" text-anchor="middle" font-size="14" fill="#777">${xmlEscape(empty)}</text>`);
  } else {
    const pts = c.x.map((x, i) => `${sx(x).toFixed(1)},${sy(c.y[i]).toFixed(1)}`).join(" ");
    parts.push(`<polyline points="${pts}" fill="none" stroke="#c0392b" stroke-width="2"/>`);
    for (const m of marks) {
      const [x, y] = [sx(m.x), sy(m.y)];
      parts.push(m.square ? `<rect x="${x - 4}" y="${y - 4}" width="8" height="8" fill="#1f618d"/>` : `<circle cx="${x}" cy="${y}" r="3.5" fill="#1f618d"/>`);
      parts.push(`<text x="${x + 7}" y="${y + (m.square ? -6 : 12)}" font-size="10" fill="#1f618d">${xmlEscape(m.label)}</text>`);
    }
  }
  parts.push(`<text x="${ox + PLOT / 2}" y="${TOP - 16}" text-anchor="middle" font-size="15" font-weight="bold">${xmlEscape(title)}</text>`);
  parts.push(`<text x="${ox + PLOT / 2}" y="${TOP + PLOT + 40}" text-anchor="middle">${xmlEscape(xLabel)}</text>`);
  const ly = TOP + PLOT / 2;
  parts.push(`<text x="${ox - 48}" y="${ly}" text-anchor="middle" transform="rotate(-90 ${ox - 48} ${ly})">${xmlEscape(yLabel)}</text>`);
  return parts.join("\n");
}

/**
 * The three panels as one SVG document, 1260 x 420 px.
 * @param caption shown under the panels (e.g. model and dataset)
 */
export function curvesSvg(curves: EvalCurves, metrics: EvalMetrics, caption: string): string {
  const width = PANEL * 3;
  const height = PANEL;
  const body = [
    panel(0, `Image ROC (AUROC ${fmt(metrics.image_auroc)})`, curves.image_roc, 1, "False positive rate (images)", "True positive rate", true, "no images", operatingMarks(metrics)),
    panel(1, `Pixel ROC (AUROC ${fmt(metrics.pixel_auroc)})`, curves.pixel_roc, 1, "False positive rate (pixels)", "True positive rate", true, NO_PIXEL_TRUTH),
    panel(2, `PRO to FPR ${PRO_FPR_LIMIT} (AUPRO ${fmt(metrics.aupro)})`, curves.pro, PRO_FPR_LIMIT, "False positive rate (pixels)", "Per-region overlap", false, NO_PIXEL_TRUTH),
  ].join("\n");
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, sans-serif" font-size="12" fill="#222">`,
    `<rect width="${width}" height="${height}" fill="#fafafa"/>`,
    body,
    `<text x="${width / 2}" y="${height - 12}" text-anchor="middle" fill="#555">${xmlEscape(caption)}</text>`,
    `</svg>`,
  ].join("\n");
}

/** curves.png as a PNG buffer. */
export async function renderCurves(curves: EvalCurves, metrics: EvalMetrics, caption: string): Promise<Buffer> {
  return sharp(Buffer.from(curvesSvg(curves, metrics, caption))).png().toBuffer();
}
