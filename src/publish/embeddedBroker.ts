import { createServer, type Server } from "node:net";
import { Aedes } from "aedes";
import type { Logger } from "../service/logger.js";

/** Where the embedded broker listens. */
export interface EmbeddedBrokerOptions {
  /** Bind address; 127.0.0.1 keeps it to this box. */
  host: string;
  /** TCP port; 0 picks a free one (see {@link EmbeddedBroker.port}). */
  port: number;
  log: Logger;
}

/**
 * An in-process MQTT 3.1.1 broker (aedes) for `mqtt.url: embedded`: the demo and boxes
 * without a broker of their own. Retained messages and wills work; nothing persists on disk.
 */
export class EmbeddedBroker {
  private broker: Aedes | undefined;
  private server: Server | undefined;
  private stopping: Promise<void> | undefined;
  private readonly log: Logger;
  private boundPort = 0;

  constructor(private readonly opts: EmbeddedBrokerOptions) {
    this.log = opts.log.child({ mod: "broker" });
  }

  /** The port bound, after start(). */
  get port(): number {
    return this.boundPort;
  }

  /** mqtt://host:port to hand to the publisher, after start(). */
  get url(): string {
    return `mqtt://${this.opts.host.includes(":") ? `[${this.opts.host}]` : this.opts.host}:${this.boundPort}`;
  }

  /** Listens; rejects when the address cannot be bound (e.g. EADDRINUSE). */
  async start(): Promise<void> {
    const broker = await Aedes.createBroker();
    this.broker = broker;
    broker.on("clientError", (client, err) => this.log.debug({ client: client.id, err: err.message }, "client error"));
    broker.on("connectionError", (_client, err) => this.log.debug({ err: err.message }, "connection error"));
    const server = createServer((socket) => broker.handle(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off("error", reject);
        resolve();
      });
    }).catch(async (err: Error) => {
      await new Promise<void>((r) => broker.close(() => r()));
      throw err;
    });
    const addr = server.address();
    this.boundPort = addr && typeof addr !== "string" ? addr.port : this.opts.port;
    this.log.info({ host: this.opts.host, port: this.boundPort }, "embedded MQTT broker listening");
  }

  /** Closes the listener and every client connection. Safe twice. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const server = this.server;
      const broker = this.broker;
      // aedes.close() ends client connections; the listener's close() only resolves after they are gone.
      if (broker) await new Promise<void>((r) => broker.close(() => r()));
      if (server?.listening) await new Promise<void>((r) => server.close(() => r()));
    })();
    return this.stopping;
  }
}
