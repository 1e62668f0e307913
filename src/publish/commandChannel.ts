import type { MqttClient } from "mqtt";
import { z } from "zod";
import type { Logger } from "../service/logger.js";
import { labelCommandSchema, type LabelCommand } from "./archiveLabel.js";
import { commandSetTopic, commandStateTopic } from "./topics.js";

/** Payloads larger than this are refused unread, bytes: no command needs more. */
export const MAX_COMMAND_BYTES = 4096;

/** `enroll/set`: take the next `frames` frames of the camera as good parts, or drop its reference. */
export const enrollCommandSchema = z.union([
  z.object({ frames: z.number().int().min(1).max(100).describe("How many of the camera's next frames to take as good parts, frames") }).strict(),
  z.object({ clear: z.literal(true).describe("Remove the camera's few-shot reference") }).strict(),
]);

/** A parsed `enroll/set` payload. */
export type EnrollCommand = z.infer<typeof enrollCommandSchema>;

/** The commands a camera answers, by topic level, with the schema of their payload. */
const SCHEMAS = { enroll: enrollCommandSchema, label: labelCommandSchema } as const;

/** The shapes each command takes, for the answer to a payload that has none of them. */
const SHAPES: Record<CommandName, string> = {
  enroll: `{"frames": 1..100} or {"clear": true}`,
  label: `{"frame_id": "...", "truth": "defect"|"good", "type"?: "...", "by"?: "...", "note"?: "..."} or {"frame_id": "...", "clear": true}`,
};

/** A command's name: the topic level before `/set`. */
export type CommandName = keyof typeof SCHEMAS;

/** A valid command, handed to {@link CommandChannelOptions.onCommand}. */
export type Command = { camera: string; name: "enroll"; payload: EnrollCommand } | { camera: string; name: "label"; payload: LabelCommand };

/** What a command channel needs. */
export interface CommandChannelOptions {
  client: MqttClient;
  base_topic: string;
  device: string;
  cameras: readonly string[];
  log: Logger;
  /** Called for every valid command; answers go through {@link CommandChannel.answer}. */
  onCommand: (cmd: Command) => void;
}

/**
 * Answers published at QoS 1 and not yet acknowledged by the broker, at most. Past it, answers go
 * at QoS 0: under a flood of commands mosquitto 2.0 drops the acknowledgements it owes a client
 * whose own queue is full (eclipse-mosquitto/mosquitto#3542), and mqtt.js keeps every
 * unacknowledged QoS 1 message until one comes, so without a cap a flood grows the daemon's memory
 * by each answer it sends (measured: 9,603 answers held after 25,050 commands).
 */
export const MAX_ANSWERS_AWAITING_ACK = 100;

/** Counters of the channel, for /metrics. */
export interface CommandStats {
  accepted: number;
  rejected: number;
  /** Answers sent at QoS 0 because {@link MAX_ANSWERS_AWAITING_ACK} were awaiting the broker. */
  answers_best_effort: number;
}

/**
 * `<base>/<device>/<camera>/<command>/set` topics: subscribed on every connect (clean sessions
 * forget them), payloads size-checked, parsed as JSON and validated; a bad one is answered with
 * `{ok: false, error}` on the matching `.../state` topic and counted, never thrown.
 */
export class CommandChannel {
  private readonly counts: CommandStats = { accepted: 0, rejected: 0, answers_best_effort: 0 };
  private awaitingAck = 0;
  private readonly log: Logger;
  private readonly onConnect = () => this.subscribe();
  private readonly onMessage = (topic: string, payload: Buffer) => this.handle(topic, payload);
  private started = false;

  constructor(private readonly opts: CommandChannelOptions) {
    this.log = opts.log.child({ mod: "commands" });
  }

  /** Subscribes now (when connected) and after every reconnect. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.opts.client.on("connect", this.onConnect);
    this.opts.client.on("message", this.onMessage);
    if (this.opts.client.connected) this.subscribe();
  }

  /** Stops listening; safe twice. */
  stop(): void {
    this.opts.client.off("connect", this.onConnect);
    this.opts.client.off("message", this.onMessage);
  }

  stats(): CommandStats {
    return { ...this.counts };
  }

  /**
   * Publishes an answer on `<base>/<device>/<camera>/<name>/state` with `at` added: QoS 1, or QoS 0
   * while {@link MAX_ANSWERS_AWAITING_ACK} answers await the broker; dropped when not connected.
   */
  answer(camera: string, name: string, body: Record<string, unknown>): void {
    const client = this.opts.client;
    if (!client.connected) return;
    const payload = JSON.stringify({ ...body, at: new Date().toISOString() });
    const qos = this.awaitingAck < MAX_ANSWERS_AWAITING_ACK ? 1 : 0;
    if (qos === 1) this.awaitingAck++;
    else if (this.counts.answers_best_effort++ % 1000 === 0) this.log.warn({ awaiting: this.awaitingAck, best_effort: this.counts.answers_best_effort }, "command answers go at QoS 0 while the broker has not acknowledged earlier ones");
    client.publish(commandStateTopic(this.opts.base_topic, this.opts.device, camera, name), payload, { qos }, (err) => {
      if (qos === 1) this.awaitingAck--;
      if (err) this.log.debug({ err: err.message, camera, command: name }, "command answer not sent");
    });
  }

  private subscribe(): void {
    const topics = this.opts.cameras.map((c) => commandSetTopic(this.opts.base_topic, this.opts.device, c, "+"));
    this.opts.client.subscribe(topics, { qos: 1 }, (err) => {
      if (err) this.log.warn({ err: err.message, topics }, "cannot subscribe to the command topics");
    });
  }

  private handle(topic: string, payload: Buffer): void {
    const prefix = `${this.opts.base_topic}/${this.opts.device}/`;
    if (!topic.startsWith(prefix) || !topic.endsWith("/set")) return;
    const [camera, name, ...rest] = topic.slice(prefix.length, -"/set".length).split("/");
    if (rest.length || !camera || !name || !this.opts.cameras.includes(camera)) return;
    const error = this.parse(camera, name, payload);
    if (error === null) return;
    // A flood of bad payloads is a misbehaving client: one log line per 1000, every one counted.
    if (this.counts.rejected++ % 1000 === 0) this.log.warn({ camera, command: name, err: error, rejected: this.counts.rejected }, "command rejected");
    this.answer(camera, name, { ok: false, error });
  }

  /** Hands a valid command on and returns null, or returns why it was refused. */
  private parse(camera: string, name: string, payload: Buffer): string | null {
    if (!Object.hasOwn(SCHEMAS, name)) return `unknown command '${name.slice(0, 64)}' (known: ${Object.keys(SCHEMAS).join(", ")})`;
    if (payload.length > MAX_COMMAND_BYTES) return `payload of ${payload.length} bytes is over the limit of ${MAX_COMMAND_BYTES}`;
    let doc: unknown;
    try {
      doc = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload));
    } catch (err) {
      return `payload is not UTF-8 JSON: ${(err as Error).message.slice(0, 120)}`;
    }
    const command = name as CommandName;
    const r = SCHEMAS[command].safeParse(doc);
    if (!r.success) return `invalid ${name} payload: ${summarize(r.error)} (expected ${SHAPES[command]})`;
    this.counts.accepted++;
    this.log.info({ camera, command: name, payload: r.data }, "command accepted");
    this.opts.onCommand({ camera, name: command, payload: r.data } as Command);
    return null;
  }
}

function summarize(err: z.ZodError): string {
  const issues = err.issues.flatMap((i) => (i.code === "invalid_union" ? i.unionErrors.flatMap((u) => u.issues) : [i]));
  const text = issues.slice(0, 4).map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
  return text.join("; ");
}
