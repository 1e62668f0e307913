import { z } from "zod";

/** MQTT connection, credentials and thumbnails. */
export const mqttSchema = z
  .object({
    url: z
      .string()
      .regex(/^(embedded|mqtts?:\/\/.+)$/, "must be 'embedded', mqtt://host:port or mqtts://host:port")
      .default("embedded")
      .describe("Broker URL, or 'embedded' to run an in-process broker"),
    embedded_host: z.string().default("127.0.0.1").describe("Bind address of the embedded broker"),
    embedded_port: z.number().int().min(0).max(65535).default(1883).describe("TCP port of the embedded broker"),
    client_id: z.string().min(1).max(128).optional().describe("MQTT client id; linewatch-<device_id> when omitted"),
    username: z.string().optional().describe("MQTT username"),
    password_file: z.string().optional().describe("File holding the MQTT password (a systemd credential name is looked up in $CREDENTIALS_DIRECTORY)"),
    password_env: z.string().optional().describe("Environment variable holding the MQTT password"),
    tls: z
      .object({
        ca: z.string().optional().describe("CA certificate file (PEM)"),
        cert: z.string().optional().describe("Client certificate file (PEM)"),
        key: z.string().optional().describe("Client key file (PEM)"),
        reject_unauthorized: z.boolean().default(true).describe("Refuse brokers whose certificate does not verify"),
      })
      .strict()
      .optional(),
    keepalive_s: z.number().int().min(1).max(3600).default(15).describe("MQTT keepalive, in seconds; the last will fires after about 1.5x this"),
    spool: z
      .object({
        max_mb: z.number().positive().max(1_000_000).default(256).describe("Results waiting for the broker may take this many MiB on disk; the oldest go first"),
        max_age_h: z.number().min(0).max(24 * 365).default(168).describe("Results older than this many hours are dropped from the spool; 0 keeps them however old"),
      })
      .strict()
      .default({})
      .describe("Disk spool under state_dir/spool for results the broker cannot take; survives restarts"),
    thumbnail: z
      .object({
        enabled: z.boolean().default(true).describe("Publish JPEG thumbnails"),
        width: z.number().int().min(16).max(4096).default(320).describe("Thumbnail width, px (height keeps the ROI's aspect)"),
        interval_ms: z.number().int().min(0).default(1000).describe("At most one thumbnail of a passing frame per camera per this many ms"),
        fail_interval_ms: z
          .number()
          .int()
          .min(0)
          .default(500)
          .describe("At most one thumbnail of a failing frame per camera per this many ms (a clock of its own: a pass thumbnail never hides a failed part)"),
        quality: z.number().int().min(1).max(100).default(75).describe("JPEG quality"),
      })
      .strict()
      .default({}),
  })
  .strict()
  .refine((m) => !(m.password_file && m.password_env), { message: "give password_file or password_env, not both", path: ["password_env"] });

export type MqttConfig = z.infer<typeof mqttSchema>;
