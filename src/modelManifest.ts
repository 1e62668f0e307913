import { z } from "zod";

/**
 * models/<name>/model.json: what the daemon needs to feed the ONNX and read its outputs.
 * Written by training/export.py; checked against the ONNX's real inputs and outputs at start.
 */
export const manifestSchema = z
  .object({
    format: z.literal("linewatch-model/1").describe("Manifest format version"),
    name: z.string().min(1).describe("Model name, published with every result"),
    version: z.string().min(1).describe("Model version, published with every result"),
    input: z
      .object({
        name: z.string().describe("ONNX input name"),
        layout: z.literal("NCHW"),
        channels: z.union([z.literal(1), z.literal(3)]).describe("1 = gray, 3 = RGB"),
        height: z.number().int().min(8).describe("Input height, px"),
        width: z.number().int().min(8).describe("Input width, px"),
        dynamic_batch: z.boolean().describe("Whether the batch axis is dynamic"),
        scale: z.number().positive().describe("Pixels are divided by this first (255 maps bytes to 0..1)"),
        mean: z.array(z.number()).describe("Per-channel mean subtracted after scaling"),
        std: z.array(z.number()).describe("Per-channel std divided after the mean"),
      })
      .strict(),
    outputs: z
      .object({
        map: z.string().describe("ONNX output name of the anomaly map, shape [N,1,h,w]"),
        score: z.string().nullable().describe("ONNX output name of an image score [N] or [N,1], or null"),
        features: z
          .string()
          .optional()
          .describe("ONNX output name of patch features [N,C,h,w] for the few-shot memory bank; absent: the model can take only a map-statistics reference"),
      })
      .strict(),
    calibration: z
      .object({
        offset: z.number().describe("Raw map values have this subtracted ..."),
        scale: z.number().positive().describe("... then are divided by this: calibrated = (raw - offset) / scale"),
      })
      .strict(),
    threshold: z
      .object({
        image: z.number().describe("Default image-score threshold, calibrated units: score >= threshold fails"),
        pixel: z.number().describe("Calibrated map value at or above which a pixel is a defect"),
      })
      .strict(),
    provenance: z.record(z.unknown()).describe("Data, teacher, seed, command, metrics"),
  })
  .strict();

export type ModelManifest = z.infer<typeof manifestSchema>;
