import { connect, type MqttClient } from "mqtt";
import type { MqttConfig } from "../config/schema.js";
import type { Logger } from "../service/logger.js";
import type { Decision } from "../types.js";
import { redactUrl } from "./credentials.js";
import { clientOptions, isPermanent, MqttConnectError, UNACCEPTABLE_PROTOCOL } from "./mqttOptions.js";
import { MemorySpool, type ResultSpool, type SpooledMessage } from "./resultSpool.js";
import { SpoolDrainer } from "./spoolDrainer.js";
import { resultPayload, resultTopic, statusPayload, statusTopic, thumbnailTopic, type CameraStatus, type PublisherIdentity } from "./topics.js";

export { MqttConnectError };

/** What {@link MqttPublisher} needs. */
export interface MqttPublisherOptions {
  mqtt: MqttConfig;
  base_topic: string;
  identity: PublisherIdentity;
  /** Cameras as first announced in the online status. */
  cameras: readonly CameraStatus[];
  log: Logger;
  /** Broker URL to use instead of `mqtt.url`, e.g. {@link EmbeddedBroker.url}. */
  url?: string;
  /** Where results wait for the broker's PUBACK: a {@link DiskSpool} survives restarts; an in-memory spool of 64 MiB when omitted. */
  spool?: ResultSpool;
  /** Environment for password_env and $CREDENTIALS_DIRECTORY; process.env when omitted. */
  env?: NodeJS.ProcessEnv;
  /** start() resolves after this long, in ms, even when the broker is not reachable yet (results spool). Default 5000. */
  connect_wait_ms?: number;
  /** stop() gives in-flight messages this long, in ms, before closing the socket. Default 3000. */
  stop_timeout_ms?: number;
}

/** Counters of a publisher, for /metrics and health. */
export interface PublisherStats {
  connected: boolean;
  /** Results acknowledged by the broker (PUBACK). */
  published: number;
  /** Publishes that failed (the results stay in the spool and are sent again). */
  publish_errors: number;
  /** Results the broker refused (MQTT 5 reason code, e.g. not authorized by its ACL); dropped. */
  refused: number;
  /** Results that arrived while the broker was unreachable (they wait in the spool). */
  spooled: number;
  /** Results waiting in the spool now. */
  spool_depth: number;
  /** Results the spool dropped when full or too old. */
  spool_dropped: number;
  thumbnails_published: number;
  /** Thumbnails dropped: not connected or the socket backed up. */
  thumbnails_dropped: number;
  /** Successful connections after the first. */
  reconnects: number;
}

/** Thumbnails are dropped when this many bytes wait in the socket already. */
const THUMBNAIL_BACKLOG_BYTES = 1 << 20;

/**
 * Publishes results (QoS 1), thumbnails (QoS 0) and the retained status with mqtt.js v5.
 * The last will is the retained offline status. Results that cannot be delivered go to a
 * {@link ResultSpool} and are sent in order once the broker is back.
 */
export class MqttPublisher {
  private mqttClient: MqttClient | undefined;
  private cameras: CameraStatus[];
  private readonly spool: ResultSpool;
  private readonly log: Logger;
  private readonly drainer: SpoolDrainer;
  private connections = 0;
  private lastError = "";
  private up = false;
  private stopping: Promise<void> | undefined;
  private readonly counts = { spooled: 0, thumbnails_published: 0, thumbnails_dropped: 0 };

  constructor(private readonly opts: MqttPublisherOptions) {
    this.cameras = [...opts.cameras];
    this.spool = opts.spool ?? new MemorySpool();
    this.log = opts.log.child({ mod: "mqtt" });
    this.drainer = new SpoolDrainer(this.spool, this.log);
  }

  /** The mqtt.js client, for tests and diagnostics; undefined before start(). */
  get client(): MqttClient | undefined {
    return this.mqttClient;
  }

  /** The URL connected to: `url`, or `mqtt.url`, or the embedded broker's address. */
  get url(): string {
    const m = this.opts.mqtt;
    return this.opts.url ?? (m.url === "embedded" ? `mqtt://${m.embedded_host}:${m.embedded_port}` : m.url);
  }

  /**
   * Connects with the offline status as last will. Resolves on the first CONNACK or after
   * `connect_wait_ms` (the client keeps retrying; results spool meanwhile).
   * @throws {@link MqttConnectError} when the broker refuses the credentials, the certificate does
   * not verify, or a TLS file cannot be read; {@link CredentialError} when the password cannot be read.
   */
  async start(): Promise<void> {
    const protocol = this.opts.mqtt.url === "embedded" ? 4 : 5;
    const options = clientOptions({ mqtt: this.opts.mqtt, url: this.url, base_topic: this.opts.base_topic, identity: this.opts.identity, cameras: this.cameras, env: this.opts.env ?? process.env, protocol });
    const url = redactUrl(this.url);
    this.log.info({ url, client_id: options.clientId, username: options.username }, "connecting to the MQTT broker");
    const client = connect(this.url, options);
    this.mqttClient = client;
    client.on("connect", () => this.onConnect());
    client.on("close", () => {
      if (this.up) this.log.warn("disconnected from the MQTT broker; results spool until it is back");
      this.up = false;
    });
    const first = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, this.opts.connect_wait_ms ?? 5000);
      client.once("connect", () => (clearTimeout(timer), resolve()));
      client.on("error", (err: Error & { code?: string | number }) => {
        if (err.code === UNACCEPTABLE_PROTOCOL && client.options.protocolVersion === 5) {
          this.log.info({ url }, "the broker speaks MQTT 3.1.1 only; reconnecting with it (refused publishes go unnoticed)");
          client.options.protocolVersion = 4;
          return;
        }
        if (err.message !== this.lastError) this.log.warn({ err: err.message, code: err.code }, "MQTT connection error");
        this.lastError = err.message;
        if (this.connections === 0 && isPermanent(err)) {
          clearTimeout(timer);
          reject(new MqttConnectError(`MQTT broker ${url} refused the connection: ${err.message}`, url, err.code));
        }
      });
    });
    try {
      await first;
    } catch (err) {
      client.end(true);
      throw err;
    }
  }

  /**
   * Queues one decision for its camera's result topic (QoS 1). Every result goes through the
   * spool and leaves it on the broker's PUBACK, so results keep their order per camera and a
   * disk spool keeps them across a broker outage or a restart.
   */
  publishResult(decision: Decision): void {
    const topic = resultTopic(this.opts.base_topic, this.opts.identity.device, decision.camera);
    const payload = Buffer.from(JSON.stringify(resultPayload(decision, this.opts.identity)));
    const msg: SpooledMessage = { topic, payload, camera: decision.camera, seq: decision.seq, queued_at: Date.now() };
    if (!this.mqttClient?.connected) this.counts.spooled++;
    this.spool.put(msg).then(
      () => void this.drainer.drain(this.mqttClient),
      (err: Error) => this.log.error({ err: err.message, camera: msg.camera, seq: msg.seq }, "result lost: spool write failed"),
    );
  }

  /**
   * Publishes a thumbnail (QoS 0), or drops and counts it when not connected or the socket is
   * backed up. `frame` goes along as MQTT 5 user properties (the JPEG's EXIF names the frame too,
   * for MQTT 3.1.1 subscribers and for files saved from the topic).
   */
  publishThumbnail(camera: string, jpeg: Buffer, frame?: { frame_id: string; verdict: string }): void {
    const client = this.mqttClient;
    if (!client?.connected || this.stopping || (client.stream?.writableLength ?? 0) > THUMBNAIL_BACKLOG_BYTES) {
      this.counts.thumbnails_dropped++;
      return;
    }
    client.publish(thumbnailTopic(this.opts.base_topic, this.opts.identity.device, camera), jpeg, { qos: 0, ...(frame ? { properties: { userProperties: { ...frame } } } : {}) }, (err) => {
      if (err) this.counts.thumbnails_dropped++;
      else this.counts.thumbnails_published++;
    });
  }

  /**
   * Publishes the retained online status only when a camera's state changed since the last
   * one; cheap to call every second from a supervision tick.
   */
  updateCameras(cameras: readonly CameraStatus[]): void {
    const same = cameras.length === this.cameras.length && cameras.every((c, i) => c.id === this.cameras[i].id && c.kind === this.cameras[i].kind && c.state === this.cameras[i].state);
    if (!same) this.publishStatus(cameras);
  }

  /** Records the cameras' states and publishes the retained online status (now, or on the next connect). */
  publishStatus(cameras: readonly CameraStatus[]): void {
    this.cameras = [...cameras];
    if (this.mqttClient?.connected && !this.stopping) this.sendStatus("online");
  }

  /** Publishes the retained offline status, lets in-flight messages finish, disconnects. Safe twice. */
  stop(): Promise<void> {
    this.stopping ??= this.close();
    return this.stopping;
  }

  /** Counters for /metrics. */
  stats(): PublisherStats {
    const s = this.spool.stats();
    return { connected: this.mqttClient?.connected ?? false, ...this.drainer.counts, ...this.counts, spool_depth: s.messages, spool_dropped: s.dropped, reconnects: Math.max(0, this.connections - 1) };
  }

  private async close(): Promise<void> {
    const client = this.mqttClient;
    if (!client) return;
    const deadline = this.opts.stop_timeout_ms ?? 3000;
    const timeout = <T>(p: Promise<T>) => Promise.race([p, new Promise<void>((r) => setTimeout(r, deadline).unref())]);
    try {
      // Results decided before stop() go out before the offline status.
      if (client.connected) await timeout(this.drainer.flush(client));
      if (client.connected) await timeout(this.sendStatus("offline"));
      // end(false) sends DISCONNECT (no will) but waits for every in-flight PUBACK first; when
      // those did not come within the deadline, end(true) closes the socket at once.
      await timeout(client.endAsync(Object.keys(client.outgoing).length > 0));
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, "MQTT close failed");
    } finally {
      // end(true) is a no-op once end(false) began (mqtt.js checks `disconnecting`): cut the socket.
      if (!client.disconnected) client.stream?.destroy();
      await this.spool.close();
    }
    if (this.spool.size() > 0) this.log.warn({ waiting: this.spool.size() }, "results left undelivered in the spool");
    this.log.info(this.stats(), "MQTT publisher stopped");
  }

  private onConnect(): void {
    this.connections++;
    this.lastError = "";
    this.up = true;
    this.log.info({ url: redactUrl(this.url), reconnects: this.connections - 1 }, "connected to the MQTT broker");
    const will = this.mqttClient?.options.will;
    // The broker keeps the will given at CONNECT; refresh its time for the next reconnect.
    if (will) will.payload = Buffer.from(JSON.stringify(statusPayload("offline", this.opts.identity, this.cameras)));
    this.sendStatus("online").catch(() => undefined);
    void this.drainer.drain(this.mqttClient);
  }

  private sendStatus(state: "online" | "offline"): Promise<void> {
    const payload = JSON.stringify(statusPayload(state, this.opts.identity, this.cameras));
    const client = this.mqttClient;
    if (!client) return Promise.resolve();
    return client.publishAsync(statusTopic(this.opts.base_topic, this.opts.identity.device), payload, { qos: 1, retain: true }).then(
      () => undefined,
      (err: Error) => void this.log.warn({ err: err.message, state }, "status publish failed"),
    );
  }
}
