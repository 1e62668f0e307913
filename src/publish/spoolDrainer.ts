import type { MqttClient } from "mqtt";
import type { Logger } from "../service/logger.js";
import { isRefusedPublish } from "./mqttOptions.js";
import type { ResultSpool, SpooledMessage } from "./resultSpool.js";

/** Results in flight at once while draining. */
const DRAIN_BATCH = 32;

/**
 * Sends a {@link ResultSpool}'s results oldest first at QoS 1 and removes each batch once the
 * broker acknowledged all of it, so order per camera holds and nothing leaves the spool unacked.
 * One drain runs at a time.
 */
export class SpoolDrainer {
  private draining: Promise<void> | undefined;
  /** Delivery counters, merged into the publisher's stats. */
  readonly counts = { published: 0, publish_errors: 0, refused: 0 };

  constructor(
    private readonly spool: ResultSpool,
    private readonly log: Logger,
  ) {}

  /** Starts draining over `client` unless a drain runs already; resolves when that drain ends. */
  drain(client: MqttClient | undefined): Promise<void> {
    if (!client) return Promise.resolve();
    this.draining ??= this.loop(client).finally(() => (this.draining = undefined));
    return this.draining;
  }

  /** Drains until the spool is empty, the connection drops, or a drain makes no progress. */
  async flush(client: MqttClient): Promise<void> {
    for (let before = Infinity; this.spool.size() > 0 && this.spool.size() < before && client.connected; ) {
      before = this.spool.size();
      await this.drain(client);
    }
  }

  private async loop(client: MqttClient): Promise<void> {
    try {
      while (this.spool.size() > 0 && client.connected) {
        const batch = await this.spool.peek(DRAIN_BATCH);
        // In flight when the connection drops, mqtt.js resends these on reconnect and resolves then.
        const sent = await Promise.all(batch.map((m) => client.publishAsync(m.topic, m.payload, { qos: 1 }).then(() => true, (err: Error) => this.refused(err, m))));
        await this.spool.remove(batch.length);
        this.counts.published += sent.filter(Boolean).length;
      }
    } catch (err) {
      this.counts.publish_errors++;
      this.log.warn({ err: (err as Error).message }, "spool drain interrupted; retried on reconnect");
    }
  }

  /**
   * A publish the broker refused (MQTT 5 reason code, e.g. an ACL) is counted and let go: sending
   * it again would block every later result behind it. Other errors are thrown to stop the drain.
   */
  private refused(err: Error, m: SpooledMessage): false {
    if (!isRefusedPublish(err)) throw err;
    if (this.counts.refused++ % 100 === 0) this.log.error({ err: err.message, topic: m.topic, refused: this.counts.refused }, "the broker refused a result (ACL?); dropped");
    return false;
  }
}
