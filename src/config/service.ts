import { z } from "zod";

/** Local HTTP health and metrics endpoint. */
export const healthSchema = z
  .object({
    bind: z.string().default("127.0.0.1").describe("Address the health server binds"),
    port: z.number().int().min(0).max(65535).default(9110).describe("TCP port of the health server; 0 picks a free one"),
  })
  .strict();

/** Batching and back-pressure of the inference pipeline. */
export const pipelineSchema = z
  .object({
    batch_max_tiles: z.number().int().min(1).max(256).default(8).describe("Largest batch sent to the model, in tiles"),
    batch_max_wait_ms: z.number().min(0).max(10000).default(20).describe("A partial batch is sent after waiting this long, in ms, while every inference worker is busy (an idle worker gets the tiles on hand at once)"),
    max_pending_frames: z.number().int().min(1).max(64).default(2).describe("Frames a camera may have waiting for inference; the oldest is dropped past this"),
    load_notice_s: z.number().int().min(1).max(3600).default(60).describe("How often, at most, the journal says that inference falls behind the cameras (frames dropped, or the workers over 80 % busy), in seconds"),
  })
  .strict();

/** The archive of failed parts under `state_dir/archive` (src/publish/rejectArchive.ts). */
export const archiveSchema = z
  .object({
    enabled: z.boolean().default(true).describe("Keep failing frames on disk: the ROI (JPEG), the predicted mask (PNG) and the result (JSON)"),
    max_mb: z.number().min(1).default(256).describe("Size of the archive, MiB; past it the oldest unlabelled entries are removed first (labelled ones only when none other is left)"),
    interval_ms: z.number().int().min(0).default(1000).describe("At most one failing frame archived per camera per this many ms (0: every one)"),
    pass_interval_ms: z.number().int().min(0).default(0).describe("Also archive one passing frame per camera every this many ms (0: none), so that operators can label the defects the model passed"),
    quality: z.number().int().min(1).max(100).default(95).describe("JPEG quality of the archived ROI (at 90 the re-encoding alone moved a model's image AUROC on its archived test images by -0.017; at 95 it did not)"),
  })
  .strict();

export type ArchiveConfig = z.infer<typeof archiveSchema>;
export type HealthConfig = z.infer<typeof healthSchema>;
export type PipelineConfig = z.infer<typeof pipelineSchema>;
