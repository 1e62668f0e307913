import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { CaptureError, fraction, planSource } from "../../src/capture/index.js";
import { redact } from "../../src/capture/describe.js";
import { readPixels } from "../../src/capture/frameReader.js";
import { cameraSchema } from "../../src/config/camera.js";

const tmp = mkdtempSync(join(tmpdir(), "lw-describe-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
const plan = (raw: Record<string, unknown>) => planSource(cameraSchema.parse(raw));

describe("descriptions per kind", () => {
  it("test: a live videotestsrc with its size and rate, a live appsink", async () => {
    const p = await plan({ id: "t", kind: "test", width: 320, height: 200, fps: 12.5 });
    assert.deepEqual(p.descriptions, [
      "videotestsrc is-live=true pattern=smpte ! video/x-raw,width=320,height=200,framerate=25/2 ! videoconvert ! video/x-raw,format=RGB ! appsink name=sink sync=false drop=true max-buffers=2 enable-last-sample=false",
    ]);
    assert.deepEqual([p.finite, p.replayable], [false, true]);
  });

  it("rtsp: transport, latency and a quoted URL; refused at once when the port is closed", async () => {
    const srv = createServer((sock) => sock.destroy());
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    const port = (srv.address() as AddressInfo).port;
    const p = await plan({ id: "r", kind: "rtsp", url: `rtsp://127.0.0.1:${port}/cam`, transport: "udp", latency_ms: 50, fps: 5 });
    srv.close();
    assert.equal(
      p.descriptions[0],
      `rtspsrc location="rtsp://127.0.0.1:${port}/cam" protocols=udp latency=50 drop-on-latency=true ! decodebin ! videorate drop-only=true ! video/x-raw,framerate=5/1 ! videoconvert ! video/x-raw,format=RGB ! appsink name=sink sync=false drop=true max-buffers=2 enable-last-sample=false`,
    );
    assert.deepEqual([p.finite, p.replayable], [false, false]);
    await assert.rejects(plan({ id: "r", kind: "rtsp", url: "rtsp://127.0.0.1:1/x" }), (e: unknown) => e instanceof CaptureError && e.camera === "r" && /127\.0\.0\.1:1 unreachable: .*ECONNREFUSED/.test(e.message));
  });

  it("file: decodebin, paced sink, fps cap by videorate; missing file refused", async () => {
    const p = await plan({ id: "f", kind: "file", path: "/dev/null", fps: 5, loop: false });
    assert.equal(
      p.descriptions[0],
      'filesrc location="/dev/null" ! decodebin ! videorate drop-only=true ! video/x-raw,framerate=5/1 ! videoconvert ! video/x-raw,format=RGB ! appsink name=sink sync=true drop=false max-buffers=2 enable-last-sample=false',
    );
    assert.deepEqual([p.finite, p.loop, p.replayable], [true, false, false]);
    await assert.rejects(plan({ id: "f", kind: "file", path: join(tmp, "none.mp4") }), /none\.mp4 cannot be read: ENOENT/);
  });

  it("v4l2: a missing device is refused before any pipeline", async () => {
    await assert.rejects(plan({ id: "v", kind: "v4l2", device: "/dev/video-none" }), /V4L2 device \/dev\/video-none cannot be opened/);
  });

  it("gige and pipeline: aravissrc with a camera name; a raw description as written", async () => {
    const g = await plan({ id: "g", kind: "gige", camera_name: "Basler-1", fps: 2 });
    assert.match(g.descriptions[0], /^aravissrc camera-name="Basler-1" ! videorate drop-only=true ! video\/x-raw,framerate=2\/1 ! videoconvert/);
    const d = "videotestsrc ! videoconvert ! appsink name=sink";
    assert.deepEqual((await plan({ id: "p", kind: "pipeline", description: d })).descriptions, [d]);
    assert.equal((await plan({ id: "p", kind: "pipeline", description: "uridecodebin uri=x ! appsink name=sink" })).replayable, false);
  });

  it("refuses a test pattern that would inject elements", async () => {
    await assert.rejects(plan({ id: "t", kind: "test", pattern: "ball ! fakesink" }), /not a videotestsrc pattern/);
  });

  it("fps as an exact fraction; passwords masked for logs", () => {
    assert.deepEqual([fraction(30), fraction(0.5), fraction(29.97), fraction(2.5)], ["30/1", "1/2", "2997/100", "5/2"]);
    assert.throws(() => fraction(0));
    assert.equal(redact('rtspsrc location="rtsp://admin:s3cret@cam/x"'), 'rtspsrc location="rtsp://admin:***@cam/x"');
  });
});

describe("readPixels", () => {
  it("cuts GStreamer's row padding (RGB rows to a multiple of 4 bytes)", () => {
    // 2x2 RGB: rows of 6 bytes padded to 8.
    const buf = Buffer.from([1, 2, 3, 4, 5, 6, 0, 0, 7, 8, 9, 10, 11, 12, 0, 0]);
    const px = readPixels(buf, { width: 2, height: 2, format: "RGB" });
    assert.ok(typeof px !== "string");
    assert.deepEqual(Array.from(px.data), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    assert.equal(px.data.buffer, buf.buffer, "cut in place, no copy");
  });

  it("takes tight buffers as they are, GRAY8 too", () => {
    const px = readPixels(Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]), { width: 4, height: 2, format: "GRAY8" });
    assert.ok(typeof px !== "string");
    assert.deepEqual([px.width, px.height, px.format, px.data.length], [4, 2, "GRAY8", 8]);
  });

  it("refuses empty, wrong-size and unsupported samples with a reason", () => {
    assert.match(readPixels(Buffer.alloc(0), { width: 2, height: 2, format: "RGB" }) as string, /0 bytes does not hold a 2x2 RGB/);
    assert.match(readPixels(Buffer.alloc(13), { width: 2, height: 2, format: "RGB" }) as string, /13 bytes/);
    assert.match(readPixels(Buffer.alloc(16), { width: 2, height: 2, format: "NV12" }) as string, /unsupported pixel format NV12/);
    assert.match(readPixels(Buffer.alloc(16), { format: "RGB" }) as string, /without a frame size/);
  });
});
