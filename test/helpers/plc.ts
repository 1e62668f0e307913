import { connect, type IClientOptions, type MqttClient } from "mqtt";

/** One message a test subscriber received, with when it arrived (ms since the epoch). */
export interface Got {
  topic: string;
  payload: Buffer;
  retain: boolean;
  at: number;
}

/** A subscriber standing in for the PLC gateway. */
export interface Plc {
  client: MqttClient;
  got: Got[];
  /** Parsed JSON payloads of the messages whose topic ends with `suffix`. */
  json<T = Record<string, unknown>>(suffix: string): T[];
  /** Resolves once `pred` holds (checked every 50 ms); rejects after `ms` with `what`. */
  until(pred: () => boolean, ms: number, what: string): Promise<void>;
  end(): void;
}

/** Connects to `url`, subscribes to `filter` at QoS 1 (again on every reconnect), records every message. */
export async function startPlc(url: string, filter: string, opts: IClientOptions = {}): Promise<Plc> {
  const client = connect(url, { clientId: `plc-${Math.random().toString(16).slice(2, 8)}`, reconnectPeriod: 100, ...opts });
  const got: Got[] = [];
  client.on("message", (topic, payload, packet) => got.push({ topic, payload, retain: packet.retain, at: Date.now() }));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`test subscriber could not connect to ${url}`)), 10_000);
    client.on("connect", () => client.subscribe(filter, { qos: 1 }, () => (clearTimeout(t), resolve())));
  });
  return {
    client,
    got,
    json: <T>(suffix: string) => got.filter((m) => m.topic.endsWith(suffix)).map((m) => JSON.parse(m.payload.toString()) as T),
    async until(pred, ms, what) {
      for (const end = Date.now() + ms; !pred(); await new Promise((r) => setTimeout(r, 50))) {
        if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      }
    },
    end: () => void client.end(true),
  };
}

/** GET /healthz: status code and body. */
export async function healthz(port: number): Promise<{ status: number; body: { status: string; reasons?: string[] } & Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: (await res.json()) as { status: string; reasons?: string[] } };
}

/** GET /metrics: one sample's value, e.g. `metric(text, 'linewatch_camera_up{camera="a"}')`; NaN when absent. */
export function metric(text: string, sample: string): number {
  const line = text.split("\n").find((l) => l.startsWith(sample + " "));
  return line === undefined ? NaN : Number(line.slice(sample.length + 1));
}

/** GET /metrics as text. */
export async function metricsText(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
}

/** Resolves after `ms`. */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
