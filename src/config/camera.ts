import { z } from "zod";

/** Region of interest in source pixels; omitted means the whole frame. */
export const roiSchema = z
  .object({
    x: z.number().int().min(0).describe("Left edge of the region, in source pixels"),
    y: z.number().int().min(0).describe("Top edge of the region, in source pixels"),
    width: z.number().int().min(1).describe("Width of the region, in source pixels"),
    height: z.number().int().min(1).describe("Height of the region, in source pixels"),
  })
  .strict()
  .describe("Region of interest, cropped from every frame before tiling");

/** How a region of interest is cut into model inputs. */
export const tilingSchema = z
  .discriminatedUnion("mode", [
  z
    .object({
      mode: z.literal("resize").describe("Resize the whole ROI to the model's input size: one tile a frame"),
    })
    .strict(),
  z
    .object({
      mode: z.literal("grid").describe("Cut the ROI into overlapping square tiles"),
      tile: z.number().int().min(16).max(4096).describe("Tile side, in source pixels; each tile is resized to the model's input"),
      overlap: z.number().int().min(0).describe("Overlap between neighbouring tiles, in source pixels"),
    })
    .strict(),
  ])
  .refine((t) => t.mode !== "grid" || t.overlap < t.tile, { message: "overlap must be smaller than tile", path: ["overlap"] });

const common = {
  id: z
    .string()
    .regex(/^[a-z0-9_-]{1,64}$/, "lower-case letters, digits, '_' or '-', at most 64")
    .describe("Camera id, used in MQTT topics and metrics"),
  fps: z.number().positive().max(240).optional().describe("Frame-rate cap, in frames per second; frames above it are dropped in GStreamer"),
  roi: roiSchema.optional(),
  tiling: tilingSchema.default({ mode: "resize" }).describe("Tiling of the ROI"),
  threshold: z.number().positive().optional().describe("Image-score threshold override for this camera (calibrated score units)"),
  stale_after_ms: z.number().int().min(100).default(5000).describe("A camera with no frame for this long is reported down, in ms"),
  reconnect_initial_ms: z.number().int().min(10).max(60_000).default(500).describe("First wait before restarting a failed camera, in ms; doubled after each failure"),
  reconnect_max_s: z.number().min(0.1).max(3600).default(10).describe("Longest wait between restarts of a failed camera, in seconds (the cap of the exponential backoff)"),
};

/** One camera: a discriminated union on `kind`. */
export const cameraSchema = z.discriminatedUnion("kind", [
  z.object({ ...common, kind: z.literal("rtsp"), url: z.string().regex(/^rtsps?:\/\//, "must start with rtsp:// or rtsps://").describe("RTSP URL"), transport: z.enum(["tcp", "udp"]).default("tcp").describe("RTP transport"), latency_ms: z.number().int().min(0).default(200).describe("Jitter buffer, in ms") }).strict(),
  z.object({ ...common, kind: z.literal("v4l2"), device: z.string().default("/dev/video0").describe("V4L2 device node"), caps: z.string().optional().describe("GStreamer caps asked of the device, e.g. video/x-raw,width=1280,height=720") }).strict(),
  z.object({ ...common, kind: z.literal("gige"), camera_name: z.string().optional().describe("Aravis camera name; the first found when omitted") }).strict(),
  z.object({ ...common, kind: z.literal("file"), path: z.string().min(1).describe("Video file path"), loop: z.boolean().default(true).describe("Start again at the end of the file") }).strict(),
  z.object({ ...common, kind: z.literal("images"), path: z.string().min(1).describe("Folder of JPEG or PNG images, read in name order"), loop: z.boolean().default(true).describe("Start again after the last image"), fps: z.number().positive().max(240).default(2).describe("Images per second") }).strict(),
  z.object({ ...common, kind: z.literal("test"), pattern: z.string().default("smpte").describe("videotestsrc pattern"), width: z.number().int().min(16).default(640).describe("Frame width, px"), height: z.number().int().min(16).default(480).describe("Frame height, px") }).strict(),
  z.object({ ...common, kind: z.literal("pipeline"), description: z.string().min(1).describe("Raw GStreamer description ending in an appsink named sink") }).strict(),
]);

export type CameraConfig = z.infer<typeof cameraSchema>;
export type Roi = z.infer<typeof roiSchema>;
export type Tiling = z.infer<typeof tilingSchema>;
