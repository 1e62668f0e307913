import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Logger } from "./logger.js";
import { METRICS_CONTENT_TYPE, type MetricsRegistry } from "./metrics.js";
import type { RejectArchive } from "../publish/rejectArchive.js";
import { ViewError, type CameraViews } from "./cameraView.js";

/**
 * The daemon's health as main.ts sees it: healthy only while running with the model loaded and
 * a recent frame from every camera.
 */
export interface HealthReport {
  /** true answers 200, false 503. */
  ok: boolean;
  /** Why not healthy, one line each (e.g. "camera cam_a: no frame for 6.2 s"); empty when healthy. */
  reasons: string[];
  /** Extra JSON shown as is in the answer, e.g. per-camera state, model, mqtt connected. */
  details?: Record<string, unknown>;
}

/** What {@link HealthServer} needs. */
export interface HealthServerOptions {
  /** Bind address; 127.0.0.1 keeps it to this box. */
  bind: string;
  /** TCP port; 0 picks a free one (see {@link HealthServer.port}). */
  port: number;
  /** Called on every GET /healthz. */
  report: () => HealthReport;
  /** Rendered on every GET /metrics: a {@link MetricsRegistry}. */
  metrics: Pick<MetricsRegistry, "render">;
  /** The archive of failed parts, served under /archive (absent: 404 there). */
  archive?: () => Pick<RejectArchive, "list" | "file"> | null;
  /** The cameras' views, served under /cameras/<id>/view.png and .jpg (absent: 404 there). */
  views?: Pick<CameraViews, "view" | "ids">;
  log: Logger;
}

/** Entries /archive lists by default, and at most. */
const ARCHIVE_LIST = { default: 50, max: 1000 };

/**
 * HTTP on `bind:port`: GET /healthz answers 200 {status:"ok",...} or 503 {status:"unhealthy",
 * reasons:[...],...}; GET /metrics answers the Prometheus text; GET /archive lists the newest
 * archived failed parts (`?limit=N`) and /archive/<camera>/<day>/<file> serves their files;
 * GET /cameras/<id>/view.png (.jpg) answers the camera's next frame with its ROI and tiles drawn;
 * GET / is a page of links to all of these; anything else 404.
 */
export class HealthServer {
  private server: Server | undefined;
  private stopping: Promise<void> | undefined;
  private boundPort = 0;
  private readonly log: Logger;

  constructor(private readonly opts: HealthServerOptions) {
    this.log = opts.log.child({ mod: "health" });
  }

  /** The port bound, after start(). */
  get port(): number {
    return this.boundPort;
  }

  /** Listens; rejects when the address cannot be bound. */
  async start(): Promise<void> {
    const server = createServer((req, res) => void this.handle(req, res));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.opts.port, this.opts.bind, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const addr = server.address();
    this.boundPort = addr && typeof addr !== "string" ? addr.port : this.opts.port;
    this.log.info({ bind: this.opts.bind, port: this.boundPort }, "health server listening");
  }

  /** Stops listening and closes open connections. Safe twice. */
  stop(): Promise<void> {
    this.stopping ??= new Promise<void>((resolve) => {
      const server = this.server;
      if (!server?.listening) return resolve();
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return this.stopping;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0];
    const head = req.method === "HEAD";
    if (req.method !== "GET" && !head) return send(res, 405, "text/plain", "method not allowed\n", head, { allow: "GET, HEAD" });
    if (path === "/healthz") {
      let report: HealthReport;
      try {
        report = this.opts.report();
      } catch (err) {
        report = { ok: false, reasons: [`health check failed: ${(err as Error).message}`] };
      }
      const body = report.ok
        ? { status: "ok", ...report.details }
        : { status: "unhealthy", reasons: report.reasons, ...report.details };
      return send(res, report.ok ? 200 : 503, "application/json", JSON.stringify(body) + "\n", head);
    }
    if (path === "/metrics") {
      try {
        return send(res, 200, METRICS_CONTENT_TYPE, await this.opts.metrics.render(), head);
      } catch (err) {
        this.log.error({ err: (err as Error).message }, "metrics rendering failed");
        return send(res, 500, "text/plain", "metrics rendering failed\n", head);
      }
    }
    if (path === "/") return send(res, 200, "text/html; charset=utf-8", this.index(), head);
    if (path === "/archive" || path.startsWith("/archive/")) return this.archive(req, res, path, head);
    const view = /^\/cameras\/([^/]+)\/view\.(png|jpe?g)$/.exec(path);
    if (view && this.opts.views) return this.view(res, view[1], view[2] === "png" ? "png" : "jpeg", head);
    send(res, 404, "text/plain", "not found: try /healthz, /metrics, /archive or /cameras/<id>/view.png\n", head);
  }

  /** A page of links for the operator's browser: health, metrics, the archive, each camera's view. */
  private index(): string {
    const esc = (t: string) => t.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
    const link = (href: string, text: string) => `<li><a href="${esc(href)}">${esc(text)}</a></li>`;
    const cameras = this.opts.views?.ids() ?? [];
    return (
      `<!doctype html><html><head><meta charset="utf-8"><title>linewatch</title></head><body><h1>linewatch</h1><ul>` +
      link("/healthz", "health") +
      link("/metrics", "metrics (Prometheus)") +
      (this.opts.archive ? link("/archive", "archive of failed parts (newest 50)") : "") +
      `</ul><h2>cameras</h2><ul>` +
      cameras.map((id) => link(`/cameras/${encodeURIComponent(id)}/view.png`, `${id}: view (ROI and tiles)`)).join("") +
      `</ul></body></html>\n`
    );
  }

  private async view(res: ServerResponse, encoded: string, format: "png" | "jpeg", head: boolean): Promise<void> {
    const camera = decoded(encoded);
    if (camera === null) return send(res, 400, "text/plain", "malformed path\n", head);
    try {
      const v = await this.opts.views!.view(camera, format);
      const r = v.roi;
      send(res, 200, v.type, v.image, head, {
        "x-linewatch-frame": `${v.frame.width}x${v.frame.height}`,
        "x-linewatch-roi": r ? `${r.x},${r.y},${r.width},${r.height}` : "none",
        "x-linewatch-tiles": String(v.tiles.length),
        ...(v.problem ? { "x-linewatch-problem": v.problem.replace(/[^\x20-\x7e]/g, "?") } : {}),
      });
    } catch (err) {
      if (err instanceof ViewError) return send(res, err.status, "text/plain", `${err.message}\n`, head);
      this.log.error({ camera, err: (err as Error).message }, "camera view failed");
      send(res, 500, "text/plain", `camera view failed: ${(err as Error).message}\n`, head);
    }
  }

  private async archive(req: IncomingMessage, res: ServerResponse, path: string, head: boolean): Promise<void> {
    const archive = this.opts.archive?.();
    if (!archive) return send(res, 404, "text/plain", "no archive: archive.enabled is false, or its folder could not be opened (see the log)\n", head);
    if (path === "/archive" || path === "/archive/") {
      const asked = new URL(req.url ?? "/", "http://x").searchParams.get("limit");
      const limit = asked === null ? ARCHIVE_LIST.default : Number(asked);
      if (!Number.isInteger(limit) || limit < 1 || limit > ARCHIVE_LIST.max) return send(res, 400, "text/plain", `limit must be an integer from 1 to ${ARCHIVE_LIST.max}\n`, head);
      return send(res, 200, "application/json", JSON.stringify({ entries: archive.list(limit) }) + "\n", head);
    }
    const name = decoded(path.slice("/archive/".length));
    if (name === null) return send(res, 400, "text/plain", "malformed path\n", head);
    const file = await archive.file(name);
    if (!file) return send(res, 404, "text/plain", "no such archived file\n", head);
    send(res, 200, file.type, file.data, head);
  }
}

/** A path segment percent-decoded; null for a malformed escape. */
function decoded(text: string): string | null {
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, head: boolean, extra: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body), "cache-control": "no-store", ...extra });
  res.end(head ? undefined : body);
}
