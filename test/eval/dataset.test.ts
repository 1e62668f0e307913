import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import sharp from "sharp";
import { DatasetError, drawShots, loadMask, readDataset } from "../../src/eval/dataset.js";
import { imageSize, loadImage } from "../../src/eval/loadImage.js";

/** An uncompressed BMP: 24-bit (rows bottom-up, BGR, 4-byte padded) or 8-bit grey palette. */
function bmp(width: number, height: number, bpp: 8 | 24, pixel: (x: number, y: number) => [number, number, number]): Buffer {
  const rowBytes = Math.ceil((width * bpp) / 32) * 4;
  const paletteBytes = bpp === 8 ? 256 * 4 : 0;
  const offset = 54 + paletteBytes;
  const b = Buffer.alloc(offset + rowBytes * height);
  b.write("BM", 0, "latin1");
  b.writeUInt32LE(b.length, 2);
  b.writeUInt32LE(offset, 10);
  b.writeUInt32LE(40, 14);
  b.writeInt32LE(width, 18);
  b.writeInt32LE(height, 22);
  b.writeUInt16LE(1, 26);
  b.writeUInt16LE(bpp, 28);
  for (let i = 0; bpp === 8 && i < 256; i++) b.fill(i, 54 + i * 4, 54 + i * 4 + 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, bl] = pixel(x, y);
      const o = offset + (height - 1 - y) * rowBytes;
      if (bpp === 8) b[o + x] = r;
      else b.set([bl, g, r], o + x * 3);
    }
  }
  return b;
}

async function png(path: string, width: number, height: number, channels: 1 | 3, fill: (k: number) => number): Promise<void> {
  const raw = Buffer.alloc(width * height * channels);
  for (let k = 0; k < raw.length; k++) raw[k] = fill(k);
  await sharp(raw, { raw: { width, height, channels } }).toFile(path);
}

describe("dataset", () => {
  let root = "";

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "lw-eval-ds-"));
    for (const d of ["train/good", "test/good", "test/crack", "ground_truth/crack"]) await mkdir(join(root, d), { recursive: true });
    for (const n of ["b", "a", "c"]) await png(join(root, "train/good", `${n}.png`), 8, 6, 1, () => 100);
    await writeFile(join(root, "train/good/notes.txt"), "not an image");
    await sharp(Buffer.alloc(8 * 6, 90), { raw: { width: 8, height: 6, channels: 1 } }).toColourspace("b-w").jpeg().toFile(join(root, "test/good/g1.jpg"));
    await png(join(root, "test/crack/c1.png"), 8, 6, 3, (k) => k % 256);
    await writeFile(join(root, "test/crack/c2.bmp"), bmp(5, 3, 24, (x, y) => [x * 10, y * 20, 7]));
    // mask values 0, 127, 128, 255 in turn: > 127 is defect
    await png(join(root, "ground_truth/crack/c1_mask.png"), 8, 6, 1, (k) => [0, 127, 128, 255][k % 4]);
    await png(join(root, "ground_truth/crack/c2_mask.png"), 4, 4, 1, () => 255);
  });

  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("lists train/good and test samples, good first, with mask paths", async () => {
    const ds = await readDataset(root);
    assert.deepEqual(ds.train_good, ["a", "b", "c"].map((n) => join(root, "train/good", `${n}.png`)));
    assert.deepEqual(ds.defect_types, ["crack"]);
    assert.equal(ds.pixel_truth, true);
    assert.deepEqual(
      ds.test.map((s) => [s.type, s.name, s.defective, s.mask_path]),
      [
        ["good", "g1", false, null],
        ["crack", "c1", true, join(root, "ground_truth/crack/c1_mask.png")],
        ["crack", "c2", true, join(root, "ground_truth/crack/c2_mask.png")],
      ],
    );
  });

  it("loads a mask as 0/1 of the mask's size", async () => {
    const ds = await readDataset(root);
    const m = await loadMask(ds.test[1]);
    assert.ok(m !== null);
    assert.equal(m.width, 8);
    assert.equal(m.height, 6);
    assert.deepEqual([...m.data.subarray(0, 8)], [0, 0, 1, 1, 0, 0, 1, 1]);
    assert.equal(await loadMask(ds.test[0]), null);
  });

  it("rejects a mask whose size differs from its image", async () => {
    const ds = await readDataset(root);
    await assert.rejects(loadMask(ds.test[2]), (e: unknown) => e instanceof DatasetError && /4x4 px .* 5x3 px/.test(e.message));
  });

  it("names the missing folder or mask", async () => {
    await assert.rejects(readDataset(join(root, "nope")), (e: unknown) => e instanceof DatasetError && /dataset folder not found/.test(e.message));
    await assert.rejects(readDataset(join(root, "train")), /no test\/ folder/);
    await mkdir(join(root, "test/fray"));
    await png(join(root, "test/fray/f1.png"), 8, 6, 1, () => 0);
    await assert.rejects(readDataset(root), /ground_truth\/fray: no truth masks/);
    await mkdir(join(root, "ground_truth/fray"));
    await assert.rejects(readDataset(root), /f1_mask\.png: missing mask of/);
    await rm(join(root, "test/fray"), { recursive: true });
    await rm(join(root, "ground_truth/fray"), { recursive: true });
  });

  it("decodes grayscale JPEG, colour PNG and BMP", async () => {
    const g = await loadImage(join(root, "test/good/g1.jpg"));
    assert.deepEqual([g.width, g.height, g.channels], [8, 6, 1]);
    const c = await loadImage(join(root, "test/crack/c1.png"));
    assert.deepEqual([c.width, c.height, c.channels, c.data[4]], [8, 6, 3, 4]);
    const b = await loadImage(join(root, "test/crack/c2.bmp"));
    assert.deepEqual([b.width, b.height, b.channels], [5, 3, 3]);
    // pixel (x=2, y=1): r = 20, g = 20, b = 7
    assert.deepEqual([...b.data.subarray((1 * 5 + 2) * 3, (1 * 5 + 2) * 3 + 3)], [20, 20, 7]);
    assert.deepEqual(await imageSize(join(root, "test/crack/c2.bmp")), { width: 5, height: 3 });
    const grey = join(root, "grey.bmp");
    await writeFile(grey, bmp(3, 2, 8, (x, y) => [x + 10 * y, 0, 0]));
    const gb = await loadImage(grey);
    assert.deepEqual([gb.channels, ...gb.data], [1, 0, 1, 2, 10, 11, 12]);
  });
});

describe("drawShots", () => {
  const pool = Array.from({ length: 20 }, (_, i) => `/d/train/good/${String(i).padStart(3, "0")}.png`);

  it("is deterministic for a seed, whatever the listing order", () => {
    const a = drawShots(pool, 4, 1);
    assert.deepEqual(drawShots([...pool].reverse(), 4, 1), a);
    assert.equal(new Set(a).size, 4);
    assert.ok(a.every((p) => pool.includes(p)));
    // draws grow by prefix: the first k of k+1 are the same images
    assert.deepEqual(drawShots(pool, 5, 1).slice(0, 4), a);
  });

  it("differs between seeds", () => {
    const draws = new Set([0, 1, 2, 3, 4].map((s) => drawShots(pool, 4, s).join()));
    assert.ok(draws.size >= 4);
  });

  it("gives [] for k = 0 and refuses more shots than images", () => {
    assert.deepEqual(drawShots(pool, 0, 9), []);
    assert.throws(() => drawShots(pool.slice(0, 3), 4, 0), /4 shots asked for but train\/good holds 3 images/);
    assert.throws(() => drawShots(pool, -1, 0), RangeError);
  });
});

