import { pixelMap } from "../../src/pipeline/roiMap.js";
import { readFileSync } from "node:fs";
import { Writable } from "node:stream";
import { Ajv, type ValidateFunction } from "ajv";
import { createLogger, type Logger } from "../../src/service/logger.js";
import type { Decision } from "../../src/types.js";

/** A decision on a width x height RGB ROI with one square defect when `fail`. */
export function makeDecision(camera: string, seq: number, opts: { fail?: boolean; width?: number; height?: number; format?: "RGB" | "GRAY8" } = {}): Decision {
  const width = opts.width ?? 64;
  const height = opts.height ?? 48;
  const ch = opts.format === "GRAY8" ? 1 : 3;
  const data = new Uint8Array(width * height * ch).fill(128);
  const mask = new Uint8Array(width * height);
  const regions = [];
  if (opts.fail) {
    for (let y = 10; y < 20; y++) for (let x = 20; x < 30; x++) mask[y * width + x] = 1;
    regions.push({ x: 20, y: 10, width: 10, height: 10, area_px: 100, area_pct: (100 / (width * height)) * 100, elongation: 1, mean_score: 2.5, cx: 24.5, cy: 14.5 });
  }
  const now = Date.now();
  return {
    camera,
    seq,
    frame_id: `${camera}-${seq}-test`,
    captured_at: now - 40,
    captured_mono: 1000,
    decided_at: now,
    decided_mono: 1040.123456,
    verdict: opts.fail ? "fail" : "pass",
    score: opts.fail ? 2.5 : 0.2,
    threshold: 1,
    regions,
    roi: { x: 0, y: 0, width, height },
    image: { width, height, format: opts.format ?? "RGB", data },
    mask,
    map: pixelMap(new Float32Array(width * height), width, height),
  };
}

/** A JSON Schema validator for schemas/<name>.schema.json (ajv, all errors, strict). */
export function schemaValidator(name: "result" | "status"): ValidateFunction {
  const ajv = new Ajv({ allErrors: true, strict: true });
  // ajv-formats is not a dependency; a full ISO 8601 UTC check is enough for our own payloads.
  ajv.addFormat("date-time", /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
  return ajv.compile(JSON.parse(readFileSync(new URL(`../../schemas/${name}.schema.json`, import.meta.url), "utf8")));
}

/** A pino logger at trace level whose output is kept in memory. */
export function captureLogger(): { log: Logger; text: () => string } {
  let text = "";
  const sink = new Writable({ write: (chunk, _enc, cb) => ((text += String(chunk)), cb()) });
  return { log: createLogger("trace", sink), text: () => text };
}
