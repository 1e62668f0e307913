/**
 * What /healthz and the retained status say about the daemon, from the stages' stats. Beside
 * main.ts for the same reason as daemonMetrics.ts: only the composition root sees every stage.
 */
import type { CameraStats } from "./capture/camera.js";
import type { CameraConfig } from "./config/schema.js";
import type { CameraStatus } from "./publish/topics.js";
import { roundBusy } from "./service/busyMeter.js";
import type { HealthReport } from "./service/healthServer.js";
import { version } from "./version.js";

/** Capture's camera states as the status payload names them. */
export function cameraStatus(stats: readonly CameraStats[]): CameraStatus[] {
  return stats.map((s) => ({ id: s.id, kind: s.kind, state: s.state === "running" ? "up" : s.state === "starting" ? "starting" : s.state === "stopped" ? "stopped" : "down" }));
}

/** What {@link healthReport} reads. */
export interface HealthInput {
  device: string;
  cameras: readonly CameraConfig[];
  stats: readonly CameraStats[];
  model: { name: string; provider: string } | null;
  mqtt_connected: boolean;
  stopping: boolean;
  /** Share of the last BUSY_WINDOW_MS the inference workers ran the model (BusyMeter), null before the model is loaded. */
  inference_busy?: number | null;
  /** ms since the epoch; Date.now() when omitted. */
  now?: number;
}

/**
 * Healthy only while the model is loaded, the daemon is not stopping and every camera is running
 * with a frame younger than its stale_after_ms. A camera capture knows is down (an error, the end
 * of its stream) is reported at once, before it would go stale.
 */
export function healthReport(input: HealthInput): HealthReport {
  const reasons: string[] = [];
  if (!input.model?.provider) reasons.push("model not loaded");
  if (input.stopping) reasons.push("stopping");
  const now = input.now ?? Date.now();
  const cameras = input.stats.map((s) => {
    const staleMs = input.cameras.find((x) => x.id === s.id)?.stale_after_ms ?? 5000;
    const age = s.last_frame_at === null ? null : now - s.last_frame_at;
    if (s.state !== "running" || age === null || age > staleMs) {
      reasons.push(`camera ${s.id} ${s.state}: ${age === null ? "no frame yet" : `no frame for ${Math.round(age / 1000)} s`}${s.last_error ? ` (${s.last_error})` : ""}`);
    }
    return { ...s, last_frame_age_ms: age };
  });
  return {
    ok: reasons.length === 0,
    reasons,
    details: { version, device: input.device, model: input.model?.name ?? null, provider: input.model?.provider ?? null, mqtt_connected: input.mqtt_connected, inference_busy: input.inference_busy == null ? null : roundBusy(input.inference_busy), cameras },
  };
}
