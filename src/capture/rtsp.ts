import { connect } from "node:net";
import type { CameraConfig } from "../config/camera.js";
import { quote, singlePlan, sinkTail, type SourcePlan } from "./describe.js";
import { CaptureError } from "./errors.js";

/** Config of an RTSP camera. */
export type RtspCameraConfig = Extract<CameraConfig, { kind: "rtsp" }>;

/** How long the reachability check waits for the server's TCP port, ms. */
export const RTSP_CONNECT_TIMEOUT_MS = 3000;

/** Resolves when host:port accepts a TCP connection; rejects with the socket's error or on timeout. */
function reachable(host: string, port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port });
    const timer = setTimeout(() => sock.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    sock.once("connect", () => {
      clearTimeout(timer);
      sock.destroy();
      resolve();
    });
    sock.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/**
 * An RTSP stream: `rtspsrc location=URL protocols=tcp|udp latency=MS drop-on-latency=true ! decodebin
 * ! <tail live>`. decodebin picks the depayloader's decoder (H.264, H.265, MJPEG). The server's TCP
 * port is tried first: a server that refuses is reported at once, without parsing a pipeline (the
 * GStreamer binding never frees one, so a camera down for days must not parse one per retry).
 */
export async function buildRtsp(cfg: RtspCameraConfig): Promise<SourcePlan> {
  const url = new URL(cfg.url);
  const port = url.port === "" ? (url.protocol === "rtsps:" ? 322 : 554) : Number(url.port);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  try {
    await reachable(host, port, RTSP_CONNECT_TIMEOUT_MS);
  } catch (err) {
    throw new CaptureError(cfg.id, `RTSP server ${host}:${port} unreachable: ${(err as Error).message}`, { cause: err });
  }
  const src = `rtspsrc location=${quote(cfg.url)} protocols=${cfg.transport} latency=${cfg.latency_ms} drop-on-latency=true`;
  return singlePlan(`${src} ! decodebin ! ${sinkTail("live", cfg.fps)}`, false, false);
}
