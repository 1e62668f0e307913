import type { Decision, Region } from "../types.js";

/**
 * MQTT topics and their payloads. Topic levels and payload fields are snake_case and stable:
 * PLC gateways subscribe to them. The JSON Schemas in schemas/ describe the same payloads.
 */

/** `<base>/<device>/status`: retained {@link StatusPayload}; also the last will (offline). */
export function statusTopic(base: string, device: string): string {
  return `${base}/${device}/status`;
}

/** `<base>/<device>/<camera>/result`: one {@link ResultPayload} per decided frame, QoS 1. */
export function resultTopic(base: string, device: string, camera: string): string {
  return `${base}/${device}/${camera}/result`;
}

/** `<base>/<device>/<camera>/thumbnail`: JPEG bytes of the ROI with the mask drawn over it, QoS 0. */
export function thumbnailTopic(base: string, device: string, camera: string): string {
  return `${base}/${device}/${camera}/thumbnail`;
}

/** `<base>/<device>/<camera>/<command>/set`: a command to one camera (`+` for any command). */
export function commandSetTopic(base: string, device: string, camera: string, command: string): string {
  return `${base}/${device}/${camera}/${command}/set`;
}

/** `<base>/<device>/<camera>/<command>/state`: the daemon's answers to that command. */
export function commandStateTopic(base: string, device: string, camera: string, command: string): string {
  return `${base}/${device}/${camera}/${command}/state`;
}

/** Name and version of the model that decided, from its manifest. */
export interface ModelRef {
  name: string;
  version: string;
}

/** A connected defect region, ROI pixels (see {@link Region}); fractional fields rounded to 4 decimals. */
export type RegionPayload = Region;

/** The JSON published on the result topic for every decided frame. schemas/result.schema.json. */
export interface ResultPayload {
  /** Unique per frame and daemon run: lets a subscriber drop QoS 1 redeliveries. */
  frame_id: string;
  camera: string;
  /** Per-camera sequence number from daemon start. */
  seq: number;
  /** Capture time, ISO 8601 UTC. */
  captured_at: string;
  /** Decision time, ISO 8601 UTC. */
  decided_at: string;
  /** Capture to decision, ms (monotonic clock). */
  latency_ms: number;
  verdict: "pass" | "fail";
  /** Calibrated image score; fails when score >= threshold. */
  score: number;
  threshold: number;
  regions: RegionPayload[];
  /** Where the inspected ROI sits in the source frame, px. */
  roi: { x: number; y: number; width: number; height: number };
  model: ModelRef;
  device: string;
}

/** State of one camera as seen by the daemon. `stopped` in an offline status. */
export type CameraState = "starting" | "up" | "down" | "stopped";

/** One camera in the status payload. */
export interface CameraStatus {
  id: string;
  /** Source kind from the config: rtsp, v4l2, gige, file, images, test, pipeline. */
  kind: string;
  state: CameraState;
}

/** The retained JSON on the status topic. schemas/status.schema.json. */
export interface StatusPayload {
  state: "online" | "offline";
  device: string;
  /** linewatch version. */
  version: string;
  model: ModelRef;
  cameras: CameraStatus[];
  /** When this daemon process started, ISO 8601 UTC. */
  started_at: string;
  /**
   * When this status was published, ISO 8601 UTC. In the last will it is the time the
   * connection that left the will was made, since the broker sends the will as stored.
   */
  at: string;
}

/** Who publishes: fixed for the daemon's lifetime. */
export interface PublisherIdentity {
  device: string;
  version: string;
  model: ModelRef;
  /** Daemon start, ms since the epoch. */
  started_at: number;
}

function round4(v: number): number {
  return Math.round(v * 1e4) / 1e4;
}

/** Builds the result payload of a decision; drops the pixels, map and mask. */
export function resultPayload(d: Decision, id: PublisherIdentity): ResultPayload {
  return {
    frame_id: d.frame_id,
    camera: d.camera,
    seq: d.seq,
    captured_at: new Date(d.captured_at).toISOString(),
    decided_at: new Date(d.decided_at).toISOString(),
    latency_ms: round4(Math.max(0, d.decided_mono - d.captured_mono)),
    verdict: d.verdict,
    score: round4(d.score),
    threshold: round4(d.threshold),
    regions: d.regions.map((r) => ({
      x: r.x,
      y: r.y,
      width: r.width,
      height: r.height,
      area_px: r.area_px,
      area_pct: round4(r.area_pct),
      elongation: round4(r.elongation),
      mean_score: round4(r.mean_score),
      cx: round4(r.cx),
      cy: round4(r.cy),
    })),
    roi: { x: d.roi.x, y: d.roi.y, width: d.roi.width, height: d.roi.height },
    model: { name: id.model.name, version: id.model.version },
    device: id.device,
  };
}

/**
 * Builds a status payload. An offline status lists every camera as `stopped`, since no
 * frame is inspected while the daemon is away.
 */
export function statusPayload(state: "online" | "offline", id: PublisherIdentity, cameras: readonly CameraStatus[], at: number = Date.now()): StatusPayload {
  return {
    state,
    device: id.device,
    version: id.version,
    model: { name: id.model.name, version: id.model.version },
    cameras: cameras.map((c) => ({ id: c.id, kind: c.kind, state: state === "offline" ? "stopped" : c.state })),
    started_at: new Date(id.started_at).toISOString(),
    at: new Date(at).toISOString(),
  };
}
