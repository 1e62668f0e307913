import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { describe, it } from "node:test";
import type { MqttClient } from "mqtt";
import { CommandChannel, MAX_ANSWERS_AWAITING_ACK, MAX_COMMAND_BYTES, type Command } from "../../src/publish/commandChannel.js";
import { captureLogger } from "./fixtures.js";

/** Just enough of an mqtt.js client: subscribe and publish are recorded, messages are emitted by the test. */
class FakeClient extends EventEmitter {
  connected = true;
  subscribed: string[][] = [];
  published: { topic: string; payload: Record<string, unknown>; qos: number }[] = [];
  /** While set, QoS 1 publishes are not acknowledged: their callbacks wait here, as behind a broker that lost the PUBACKs. */
  holdAcks = false;
  held: ((err?: Error) => void)[] = [];
  subscribe(topics: string[], _opts: unknown, cb: (err?: Error) => void): void {
    this.subscribed.push(topics);
    cb();
  }
  publish(topic: string, payload: string, opts: { qos: number }, cb: (err?: Error) => void): void {
    this.published.push({ topic, payload: JSON.parse(payload) as Record<string, unknown>, qos: opts.qos });
    if (this.holdAcks && opts.qos > 0) this.held.push(cb);
    else cb();
  }
}

function channel() {
  const client = new FakeClient();
  const commands: Command[] = [];
  const ch = new CommandChannel({ client: client as unknown as MqttClient, base_topic: "lw", device: "box", cameras: ["top", "side"], log: captureLogger().log, onCommand: (c) => commands.push(c) });
  ch.start();
  const send = (topic: string, payload: string | Buffer) => client.emit("message", topic, Buffer.from(payload));
  return { client, commands, ch, send };
}

describe("CommandChannel", () => {
  it("subscribes to every camera's .../+/set now and after each reconnect", () => {
    const { client } = channel();
    client.emit("connect");
    assert.deepEqual(client.subscribed, [["lw/box/top/+/set", "lw/box/side/+/set"], ["lw/box/top/+/set", "lw/box/side/+/set"]]);
  });

  it("hands on valid enroll commands and answers nothing itself", () => {
    const { client, commands, ch, send } = channel();
    send("lw/box/top/enroll/set", '{"frames": 5}');
    send("lw/box/side/enroll/set", '{"clear": true}');
    assert.deepEqual(commands, [{ camera: "top", name: "enroll", payload: { frames: 5 } }, { camera: "side", name: "enroll", payload: { clear: true } }]);
    assert.deepEqual(client.published, []);
    assert.deepEqual(ch.stats(), { accepted: 2, rejected: 0, answers_best_effort: 0 });
  });

  it("hands on valid label commands", () => {
    const { commands, send } = channel();
    send("lw/box/top/label/set", '{"frame_id": "top-1-1", "truth": "defect", "type": "crack"}');
    send("lw/box/side/label/set", '{"frame_id": "side-2-2", "clear": true}');
    assert.deepEqual(commands, [
      { camera: "top", name: "label", payload: { frame_id: "top-1-1", truth: "defect", type: "crack" } },
      { camera: "side", name: "label", payload: { frame_id: "side-2-2", clear: true } },
    ]);
  });

  it("refuses bad payloads on the matching state topic with the reason, and counts them", () => {
    const { client, commands, ch, send } = channel();
    const bad: [string, string | Buffer, RegExp][] = [
      ["enroll", "{", /not UTF-8 JSON/],
      ["enroll", Buffer.from([0xc3, 0x28]), /not UTF-8 JSON/],
      ["enroll", '{"frames": "3"}', /frames: Expected number, received string/],
      ["enroll", '{"frames": 0}', /frames: Number must be greater than or equal to 1/],
      ["enroll", '{"frames": 101}', /frames: Number must be less than or equal to 100/],
      ["enroll", '{"frames": 2, "x": 1}', /Unrecognized key.*expected \{"frames": 1..100\} or \{"clear": true\}/],
      ["enroll", '{"clear": false}', /clear: Invalid literal value/],
      ["enroll", "null", /Expected object, received null/],
      ["enroll", Buffer.alloc(MAX_COMMAND_BYTES + 1, 0x20), /over the limit of 4096/],
      ["reboot", "{}", /unknown command 'reboot' \(known: enroll, label\)/],
      ["label", '{"frame_id": "f", "truth": "maybe"}', /truth: Invalid enum value.*expected \{"frame_id"/],
      ["label", '{"frame_id": "f", "truth": "good", "type": "crack"}', /type: type is only given with truth 'defect'/],
    ];
    for (const [name, payload] of bad) send(`lw/box/top/${name}/set`, payload);
    assert.equal(commands.length, 0);
    assert.equal(client.published.length, bad.length);
    bad.forEach(([name, , reason], i) => {
      const answer = client.published[i];
      assert.equal(answer.topic, `lw/box/top/${name}/state`);
      assert.equal(answer.payload.ok, false);
      assert.match(String(answer.payload.error), reason);
    });
    assert.deepEqual(ch.stats(), { accepted: 0, rejected: bad.length, answers_best_effort: 0 });
  });

  it("ignores topics of other devices, unknown cameras and deeper levels; stop() detaches", () => {
    const { client, commands, ch, send } = channel();
    for (const t of ["lw/other/top/enroll/set", "lw/box/nope/enroll/set", "lw/box/top/enroll/x/set", "lw/box/top/enroll/state"]) send(t, '{"frames": 1}');
    ch.stop();
    send("lw/box/top/enroll/set", '{"frames": 1}');
    assert.equal(commands.length, 0);
    assert.equal(client.published.length, 0);
  });
  it("answers at QoS 0 while too many answers await the broker's acknowledgement, and at QoS 1 again once they come", () => {
    const { client, ch, send } = channel();
    client.holdAcks = true;
    const n = MAX_ANSWERS_AWAITING_ACK + 50;
    for (let i = 0; i < n; i++) send("lw/box/top/enroll/set", "{");
    assert.equal(client.published.length, n, "every bad command is answered");
    assert.ok(client.published.slice(0, MAX_ANSWERS_AWAITING_ACK).every((p) => p.qos === 1));
    assert.ok(client.published.slice(MAX_ANSWERS_AWAITING_ACK).every((p) => p.qos === 0 && p.payload.ok === false));
    assert.equal(ch.stats().answers_best_effort, 50);
    // The broker acknowledges what it held: answers go at QoS 1 again.
    client.holdAcks = false;
    client.held.splice(0).forEach((cb) => cb());
    send("lw/box/top/enroll/set", "{");
    assert.equal(client.published.at(-1)?.qos, 1);
    assert.equal(ch.stats().answers_best_effort, 50);
  });
});
