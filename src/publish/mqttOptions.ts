import { readFileSync } from "node:fs";
import type { IClientOptions } from "mqtt";
import type { MqttConfig } from "../config/schema.js";
import { readMqttPassword, redactUrl } from "./credentials.js";
import { statusPayload, statusTopic, type CameraStatus, type PublisherIdentity } from "./topics.js";

/** The broker refused us for good (bad credentials, untrusted certificate) or a TLS file is unreadable. */
export class MqttConnectError extends Error {
  constructor(
    message: string,
    /** Broker URL, credentials removed. */
    readonly url: string,
    /** CONNACK return code or TLS/socket error code, when there is one. */
    readonly code?: string | number,
  ) {
    super(message);
    this.name = "MqttConnectError";
  }
}

/** What the mqtt.js options are made of. */
export interface ClientOptionsInput {
  mqtt: MqttConfig;
  /** The URL connected to, for error messages. */
  url: string;
  base_topic: string;
  identity: PublisherIdentity;
  cameras: readonly CameraStatus[];
  env: NodeJS.ProcessEnv;
  /** MQTT 5 tells a refused publish (ACL) from a delivered one; aedes speaks 3.1.1 (4) only. */
  protocol: 4 | 5;
}

/**
 * mqtt.js options from the config: credentials, TLS files, keepalive, and the retained offline
 * status as last will. Reads the password and TLS files now.
 * @throws {@link MqttConnectError} for an unreadable TLS file, {@link CredentialError} for a password.
 */
export function clientOptions(input: ClientOptionsInput): IClientOptions {
  const m = input.mqtt;
  const offline = statusPayload("offline", input.identity, input.cameras);
  const readTls = (what: string, path: string | undefined) => {
    if (!path) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new MqttConnectError(`cannot read mqtt.tls.${what} ${path}: ${code ?? (err as Error).message}`, redactUrl(input.url), code);
    }
  };
  return {
    clientId: m.client_id ?? `linewatch-${input.identity.device}`,
    username: m.username,
    password: readMqttPassword(m, input.env),
    keepalive: m.keepalive_s,
    clean: true,
    protocolVersion: input.protocol,
    reconnectPeriod: 1000,
    connectTimeout: 10_000,
    // A refused CONNACK after start (password rotated, ACL changed) must not stop retries for good.
    reconnectOnConnackError: true,
    // Thumbnails are best effort: never pile them up in memory while offline.
    queueQoSZero: false,
    will: { topic: statusTopic(input.base_topic, input.identity.device), payload: Buffer.from(JSON.stringify(offline)), qos: 1, retain: true },
    ca: readTls("ca", m.tls?.ca),
    cert: readTls("cert", m.tls?.cert),
    key: readTls("key", m.tls?.key),
    rejectUnauthorized: m.tls?.reject_unauthorized ?? true,
  };
}

/** Errors that retrying will not fix: a refused CONNACK for credentials, or a certificate that does not verify. */
export function isPermanent(err: Error & { code?: string | number }): boolean {
  // 3.1.1: identifier rejected, bad user name or password, not authorized; 5: the same and banned, bad auth method.
  if (typeof err.code === "number") return [2, 4, 5, 133, 134, 135, 138, 140].includes(err.code);
  return typeof err.code === "string" && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL/.test(err.code);
}

/** A broker that speaks MQTT 3.1.1 only refuses an MQTT 5 CONNECT with this 3.1.1 return code. */
export const UNACCEPTABLE_PROTOCOL = 1;

/** Whether an error is the broker refusing one publish (an MQTT 5 PUBACK reason code, e.g. 135 not authorized). */
export function isRefusedPublish(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === "number" && code >= 0x80;
}
