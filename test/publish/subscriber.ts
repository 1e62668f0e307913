import { connectAsync, type MqttClient } from "mqtt";

/** One message a test subscriber received. */
export interface Received {
  topic: string;
  payload: Buffer;
  retain: boolean;
  qos: number;
}

/** A PLC-gateway-like subscriber that records everything on `filter`. */
export interface TestSubscriber {
  client: MqttClient;
  messages: Received[];
  /** Resolves with the first message (from `from` on) that matches, or rejects after `timeout_ms`. */
  waitFor(pred: (m: Received) => boolean, timeout_ms?: number, from?: number): Promise<Received>;
  close(): Promise<void>;
}

/** Connects a second client to `url` and subscribes to `filter` at QoS 1. */
export async function subscribe(url: string, filter: string): Promise<TestSubscriber> {
  const client = await connectAsync(url, { clientId: `test-sub-${process.pid}-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 200 });
  const messages: Received[] = [];
  const waiters = new Set<() => void>();
  client.on("message", (topic, payload, packet) => {
    messages.push({ topic, payload, retain: packet.retain, qos: packet.qos });
    for (const w of waiters) w();
  });
  await client.subscribeAsync(filter, { qos: 1 });
  return {
    client,
    messages,
    waitFor: (pred, timeout_ms = 5000, from = 0) =>
      new Promise<Received>((resolve, reject) => {
        const check = () => {
          const m = messages.slice(from).find(pred);
          if (!m) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(m);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching message within ${timeout_ms} ms; got ${messages.map((m) => m.topic).join(", ")}`));
        }, timeout_ms);
        waiters.add(check);
        check();
      }),
    close: () => client.endAsync(true),
  };
}
