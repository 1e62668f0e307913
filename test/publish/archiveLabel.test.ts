import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { ArchiveLabelError, labelCommandSchema } from "../../src/publish/archiveLabel.js";
import { RejectArchive, type ArchiveOptions } from "../../src/publish/rejectArchive.js";
import { captureLogger, makeDecision } from "./fixtures.js";

const identity = { device: "line1", version: "0.1.0", model: { name: "m", version: "1" }, started_at: 0 };
const options: ArchiveOptions = { enabled: true, max_mb: 64, interval_ms: 0, pass_interval_ms: 0, quality: 90 };
const T = Date.parse("2026-11-25T09:00:00.000Z");

/** A decision with the daemon's frame id on a noisy ROI (JPEGs of some size). */
function decision(camera: string, seq: number, fail = true) {
  const d = makeDecision(camera, seq, { fail, width: 96, height: 96 });
  for (let i = 0; i < d.image.data.length; i++) d.image.data[i] = ((i + seq) * 2654435761) >>> 24;
  const captured_at = T + seq * 1000;
  return { ...d, captured_at, frame_id: `${camera}-${captured_at}-${seq}` };
}

/** Every file's size under `dir`, summed. */
function diskBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) n += statSync(join(e.parentPath ?? e.path, e.name)).size;
  return n;
}

describe("operators' labels on archived parts", () => {
  const root = mkdtempSync(join(tmpdir(), "lw-label-"));
  after(() => rmSync(root, { recursive: true, force: true }));
  const { log, text } = captureLogger();

  it("stores a label beside the entry, lists it, replaces and removes it, and keeps the byte count true", async () => {
    const dir = join(root, "a");
    let now = T + 60_000;
    const archive = await RejectArchive.open(dir, options, identity, log, () => now);
    const d = decision("cam_a", 1);
    assert.ok(await archive.save(d));
    const file = join(dir, "cam_a", "2026-11-25", `${d.frame_id}.label.json`);
    const label = await archive.label("cam_a", { frame_id: d.frame_id, truth: "defect", type: "crack", by: "op-7" });
    assert.deepEqual(label, { truth: "defect", type: "crack", by: "op-7", at: "2026-11-25T09:01:00.000Z" });
    assert.deepEqual(JSON.parse(readFileSync(file, "utf8")), label);
    assert.deepEqual(archive.list(10)[0].label, label);
    assert.equal(archive.stats().labelled, 1);
    assert.equal(archive.stats().bytes, diskBytes(dir));
    now += 1000;
    const relabel = await archive.label("cam_a", { frame_id: d.frame_id, truth: "good", note: "dust on the lens" });
    assert.deepEqual(JSON.parse(readFileSync(file, "utf8")), relabel);
    assert.equal(relabel?.truth, "good");
    assert.equal(archive.stats().bytes, diskBytes(dir));
    assert.equal(await archive.label("cam_a", { frame_id: d.frame_id, clear: true }), null);
    assert.ok(!existsSync(file));
    assert.equal(archive.list(10)[0].label, null);
    assert.equal(archive.stats().labelled, 0);
    assert.equal(archive.stats().bytes, diskBytes(dir));
    assert.equal(await archive.label("cam_a", { frame_id: d.frame_id, clear: true }), null, "clearing twice is fine");
  });

  it("stores labels sent at once for one frame in the order sent: every one answered, the last one kept", async () => {
    const dir = join(root, "at-once");
    const archive = await RejectArchive.open(dir, options, identity, log);
    const d = decision("cam_a", 3);
    await archive.save(d);
    const notes = ["first", "second", "third", "fourth", "fifth"];
    const labels = await Promise.all(notes.map((note, i) => archive.label("cam_a", i === 2 ? { frame_id: d.frame_id, clear: true } : { frame_id: d.frame_id, truth: "good", note })));
    assert.deepEqual(labels.map((l) => l?.note ?? null), ["first", "second", null, "fourth", "fifth"]);
    const file = join(dir, "cam_a", "2026-11-25", `${d.frame_id}.label.json`);
    assert.equal(JSON.parse(readFileSync(file, "utf8")).note, "fifth");
    assert.equal(archive.list(10)[0].label?.note, "fifth");
    assert.equal(archive.stats().bytes, diskBytes(dir));
    assert.ok(readdirSync(join(dir, "cam_a", "2026-11-25")).every((f) => !f.endsWith(".tmp")));
  });

  it("labels a frame sent while its entry is still being written (a gateway that labels as soon as it sees the result)", async () => {
    const dir = join(root, "in-flight");
    const archive = await RejectArchive.open(dir, options, identity, log);
    const d = decision("cam_a", 4);
    const saving = archive.save(d); // the result is on MQTT by now; the files are not on disk yet
    const label = await archive.label("cam_a", { frame_id: d.frame_id, truth: "defect", type: "crack" });
    assert.equal(await saving, true);
    assert.equal(label?.type, "crack");
    assert.equal(archive.list(10)[0].label?.type, "crack");
    assert.equal(archive.stats().bytes, diskBytes(dir));
  });

  it("counts labels by camera, the daemon's verdict and the truth (false alarms, misses), also after reopening", async () => {
    const dir = join(root, "counts");
    const sampled = { ...options, pass_interval_ms: 1 };
    const archive = await RejectArchive.open(dir, sampled, identity, log);
    const frames = [decision("cam_a", 11), decision("cam_a", 12), decision("cam_b", 13), decision("cam_a", 14, false), decision("cam_a", 15)];
    for (const d of frames) assert.ok(await archive.save(d), d.frame_id);
    await archive.label("cam_a", { frame_id: frames[0].frame_id, truth: "defect" }); // a reject confirmed
    await archive.label("cam_a", { frame_id: frames[1].frame_id, truth: "good" }); // a false alarm
    await archive.label("cam_b", { frame_id: frames[2].frame_id, truth: "good" });
    await archive.label("cam_a", { frame_id: frames[3].frame_id, truth: "defect", type: "crack" }); // a miss, in the pass sample
    const expected = [
      { camera: "cam_a", verdict: "fail", truth: "defect", count: 1 },
      { camera: "cam_a", verdict: "fail", truth: "good", count: 1 },
      { camera: "cam_a", verdict: "pass", truth: "defect", count: 1 },
      { camera: "cam_b", verdict: "fail", truth: "good", count: 1 },
    ];
    assert.deepEqual(archive.stats().labels, expected);
    assert.equal(archive.stats().labelled, 4);
    // Reopened, the verdicts come from the entries' result files.
    const again = await RejectArchive.open(dir, sampled, identity, log);
    assert.deepEqual(again.stats().labels, expected);
    assert.deepEqual(again.list(10).map((e) => e.verdict), ["fail", "pass", "fail", "fail", "fail"], "/archive lists each entry's verdict, read back from its result");
    assert.deepEqual(again.list(10).map((e) => e.score), archive.list(10).map((e) => e.score), "and its score, as published");
    assert.ok(archive.list(10).every((e) => typeof e.score === "number"));
    await again.label("cam_a", { frame_id: frames[4].frame_id, truth: "good" });
    assert.deepEqual(again.stats().labels[1], { camera: "cam_a", verdict: "fail", truth: "good", count: 2 });
  });

  it("refuses a frame the archive does not hold, or another camera's, and writes nothing", async () => {
    const dir = join(root, "b");
    const archive = await RejectArchive.open(dir, options, identity, log);
    const d = decision("cam_a", 2);
    await archive.save(d);
    await assert.rejects(archive.label("cam_a", { frame_id: "cam_a-1-1", truth: "good" }), (e: Error) => e instanceof ArchiveLabelError && /not in the archive/.test(e.message));
    await assert.rejects(archive.label("cam_b", { frame_id: d.frame_id, truth: "good" }), ArchiveLabelError);
    assert.ok(readdirSync(join(dir, "cam_a", "2026-11-25")).every((f) => !f.includes(".label")));
  });

  it("validates label/set payloads: truth is defect or good, a type only with defect, no other fields", () => {
    const ok = [
      { frame_id: "f", truth: "defect" },
      { frame_id: "f", truth: "defect", type: "blow_hole-2" },
      { frame_id: "f", truth: "good", by: "op", note: "fine" },
      { frame_id: "f", clear: true },
    ];
    for (const p of ok) assert.ok(labelCommandSchema.safeParse(p).success, JSON.stringify(p));
    const bad = [
      { frame_id: "f" },
      { frame_id: "f", truth: "bad" },
      { frame_id: "f", truth: "good", type: "crack" },
      { frame_id: "f", truth: "defect", type: "good" },
      { frame_id: "f", truth: "defect", type: "../x" },
      { frame_id: "f", truth: "defect", type: "Crack" },
      { frame_id: "", truth: "good" },
      { frame_id: "f", truth: "good", extra: 1 },
      { frame_id: "f", clear: false },
      { truth: "good" },
      { frame_id: "f", truth: "good", note: "x".repeat(201) },
    ];
    for (const p of bad) assert.ok(!labelCommandSchema.safeParse(p).success, JSON.stringify(p));
  });

  it("reads labels back on reopening, leaves an unreadable label file alone and removes a label whose entry is gone", async () => {
    const dir = join(root, "c");
    const first = await RejectArchive.open(dir, options, identity, log);
    const [x, y, z] = [decision("cam_a", 1), decision("cam_a", 2), decision("cam_a", 3)];
    for (const d of [x, y, z]) await first.save(d);
    await first.label("cam_a", { frame_id: x.frame_id, truth: "defect", type: "crack" });
    const day = join(dir, "cam_a", "2026-11-25");
    writeFileSync(join(day, `${y.frame_id}.label.json`), "{ not json");
    writeFileSync(join(day, "cam_a-5-5.label.json"), JSON.stringify({ truth: "good", at: "2026-11-25T00:00:00Z" }));
    const again = await RejectArchive.open(dir, options, identity, log);
    const byId = new Map(again.list(10).map((e) => [e.frame_id, e.label]));
    assert.equal(byId.get(x.frame_id)?.type, "crack");
    assert.equal(byId.get(y.frame_id), null);
    assert.equal(byId.get(z.frame_id), null);
    assert.equal(again.stats().entries, 3, "a label file is not an entry of its own");
    assert.ok(existsSync(join(day, `${y.frame_id}.label.json`)), "an operator's unreadable file is kept");
    assert.match(text(), /archived label unreadable/);
    assert.ok(!existsSync(join(day, "cam_a-5-5.label.json")), "the orphaned label is removed");
    assert.equal(again.stats().bytes, diskBytes(dir));
  });

  it("keeps the byte count true when a label file written by hand, or unreadable, is replaced or removed", async () => {
    const dir = join(root, "h");
    const first = await RejectArchive.open(dir, options, identity, log);
    const [x, y] = [decision("cam_a", 1), decision("cam_a", 2)];
    for (const d of [x, y]) await first.save(d);
    const day = join(dir, "cam_a", "2026-11-25");
    // Indented by hand (a person fixing a label in an editor), and a file that is not JSON at all.
    writeFileSync(join(day, `${x.frame_id}.label.json`), JSON.stringify({ truth: "good", at: "2026-11-25T00:00:00Z", note: "checked" }, null, 4) + "\n\n");
    writeFileSync(join(day, `${y.frame_id}.label.json`), "{ not json, and rather long: " + "x".repeat(300));
    const again = await RejectArchive.open(dir, options, identity, log);
    assert.equal(again.stats().bytes, diskBytes(dir));
    await again.label("cam_a", { frame_id: x.frame_id, truth: "defect", type: "crack" });
    assert.equal(again.stats().bytes, diskBytes(dir), "a hand-written label replaced");
    await again.label("cam_a", { frame_id: y.frame_id, truth: "good" });
    assert.equal(again.stats().bytes, diskBytes(dir), "an unreadable label replaced");
    await again.label("cam_a", { frame_id: x.frame_id, clear: true });
    assert.equal(again.stats().bytes, diskBytes(dir), "a label removed");
  });

  it("prunes the oldest unlabelled entries first, and labelled ones only when nothing else is left", async () => {
    const dir = join(root, "d");
    const probe = await RejectArchive.open(join(root, "d-probe"), options, identity, log);
    await probe.save(decision("cam_a", 0));
    const one = probe.stats().bytes;
    let maxMb = (one * 10) / 1048576;
    const archive = await RejectArchive.open(dir, { ...options, max_mb: maxMb }, identity, log);
    const ds = [0, 1, 2, 3].map((k) => decision("cam_a", k));
    for (const d of ds) await archive.save(d);
    await archive.label("cam_a", { frame_id: ds[0].frame_id, truth: "good" });
    await archive.label("cam_a", { frame_id: ds[1].frame_id, truth: "defect" });
    const [e, f] = [decision("cam_a", 4), decision("cam_a", 5)];
    const small = { ...options, max_mb: (archive.stats().bytes + 0.5 * one) / 1048576 };
    const reopened = await RejectArchive.open(dir, small, identity, log);
    for (const d of [e, f]) await reopened.save(d);
    const left = reopened.list(10).map((x) => x.frame_id).sort();
    // Over the limit by two entries: the two oldest unlabelled ones (2 and 3) went, the older labelled ones stay.
    assert.deepEqual(left, [ds[0], ds[1], e, f].map((x) => x.frame_id).sort());
    maxMb = (one * 1.5) / 1048576;
    const tiny = await RejectArchive.open(dir, { ...options, max_mb: maxMb }, identity, log);
    assert.deepEqual(tiny.list(10).map((x) => x.frame_id), [ds[1].frame_id], "only labelled ones left: the oldest of them goes");
  });

  it("archives a sample of passing frames when pass_interval_ms is set, on a clock of its own", async () => {
    let now = 0;
    const archive = await RejectArchive.open(join(root, "e"), { ...options, interval_ms: 1000, pass_interval_ms: 5000 }, identity, log, () => now);
    assert.equal(archive.due("cam_a", "pass"), true);
    assert.ok(await archive.save(decision("cam_a", 1, false)));
    now = 100;
    assert.equal(await archive.save(decision("cam_a", 2, true)), true, "a failing frame is not held back by the pass sample");
    assert.equal(await archive.save(decision("cam_a", 3, false)), false);
    now = 5000;
    assert.equal(archive.due("cam_a", "pass"), true);
    assert.ok(await archive.save(decision("cam_a", 4, false)));
    assert.deepEqual([archive.stats().saved, archive.stats().saved_pass, archive.stats().skipped], [1, 2, 0]);
    const off = await RejectArchive.open(join(root, "e-off"), options, identity, log);
    assert.equal(off.due("cam_a", "pass"), false);
    assert.equal(await off.save(decision("cam_a", 1, false)), false);
    assert.equal(off.stats().entries, 0);
  });
});
