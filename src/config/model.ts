import { z } from "zod";

/** One ONNX Runtime execution provider, tried in the order given. */
export const providerSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("tensorrt"), device_id: z.number().int().min(0).default(0).describe("GPU index") }).strict(),
  z.object({ kind: z.literal("cuda"), device_id: z.number().int().min(0).default(0).describe("GPU index") }).strict(),
  z.object({ kind: z.literal("cpu") }).strict(),
]);

/** The anomaly-segmentation model and how it is run. */
export const modelSchema = z
  .object({
    dir: z.string().default("").describe("Folder holding model.onnx and model.json, relative to the config file; empty means the bundled default model"),
    providers: z
      .array(providerSchema)
      .min(1)
      .default([{ kind: "tensorrt", device_id: 0 }, { kind: "cuda", device_id: 0 }, { kind: "cpu" }])
      .describe("Execution providers in order of preference; one that cannot load is skipped"),
    workers: z
      .number()
      .int()
      .min(0)
      .max(64)
      .default(0)
      .describe("Inference workers, each with its own session of the model, batches spread over them; 0 means one per core (at most 4) on the CPU provider and one on a GPU"),
    threads: z
      .number()
      .int()
      .min(0)
      .max(256)
      .default(0)
      .describe("Intra-op threads of each worker's CPU provider; 0 shares the cores out among the workers (at least one each). All run at a lower priority than the main thread (nice 10), without spin-waiting"),
  })
  .strict();

export type ModelConfig = z.infer<typeof modelSchema>;
export type ProviderConfig = z.infer<typeof providerSchema>;
