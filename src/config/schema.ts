import { z } from "zod";
import { cameraSchema } from "./camera.js";
import { modelSchema } from "./model.js";
import { mqttSchema } from "./mqtt.js";
import { archiveSchema, healthSchema, pipelineSchema } from "./service.js";

/** The whole linewatch configuration file. */
export const configSchema = z
  .object({
    device_id: z
      .string()
      .regex(/^[a-z0-9_-]{1,64}$/, "lower-case letters, digits, '_' or '-', at most 64")
      .describe("This box's id, used in MQTT topics"),
    base_topic: z
      .string()
      .regex(/^[^#+\s]+$/, "no '#', '+' or spaces")
      .default("linewatch")
      .describe("First level of every MQTT topic"),
    state_dir: z.string().default("/var/lib/linewatch").describe("Folder for enrolments, the result spool and the archive of failed parts"),
    log_level: z.enum(["fatal", "error", "warn", "info", "debug", "trace"]).default("info").describe("Log level"),
    cameras: z
      .array(cameraSchema)
      .min(1)
      .describe("Cameras, at least one; ids must be unique (checked in load.ts, so it is reported with every other problem)"),
    model: modelSchema.default({}),
    pipeline: pipelineSchema.default({}),
    mqtt: mqttSchema.default({}),
    health: healthSchema.default({}),
    archive: archiveSchema.default({}),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type { CameraConfig, Roi, Tiling } from "./camera.js";
export type { ModelConfig, ProviderConfig } from "./model.js";
export type { MqttConfig } from "./mqtt.js";
export type { ArchiveConfig, HealthConfig, PipelineConfig } from "./service.js";
