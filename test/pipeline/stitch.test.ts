import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, it } from "node:test";
import { toPixels } from "../../src/pipeline/roiMap.js";
import { StitchAccumulator, stitchMaps } from "../../src/pipeline/stitch.js";
import { StitchKernel } from "../../src/pipeline/stitchSimd.js";
import { tilePlan } from "../../src/pipeline/tile.js";
import type { TileMap } from "../../src/types.js";

const tileMap = (rect: TileMap["rect"], mw: number, value: (u: number, v: number) => number): TileMap => {
  const map = new Float32Array(mw * mw);
  for (let v = 0; v < mw; v++) for (let u = 0; u < mw; u++) map[v * mw + u] = value(u, v);
  return { frame_key: "c/0", index: 0, count: 1, rect, map, map_width: mw, map_height: mw };
};

describe("stitchMaps", () => {
  it("reproduces a constant map exactly across overlapping tiles", () => {
    const rects = tilePlan(300, 200, { mode: "grid", tile: 128, overlap: 32 });
    const out = toPixels(stitchMaps(rects.map((r) => tileMap(r, 32, () => 0.7)), 300, 200));
    assert.equal(out.length, 300 * 200);
    assert.ok(out.every((v) => Math.abs(v - 0.7) < 1e-5));
  });

  it("puts a hot spot back where it was, through the tile's scale", () => {
    // One 100px tile at (50,20) with a 10x10 map: map cell (3,4) covers ROI x 80..89, y 60..69.
    const t = tileMap({ x: 50, y: 20, width: 100, height: 100 }, 10, (u, v) => (u === 3 && v === 4 ? 1 : 0));
    const out = toPixels(stitchMaps([t], 200, 200));
    let best = 0;
    for (let i = 1; i < out.length; i++) if (out[i] > out[best]) best = i;
    const bx = best % 200, by = Math.floor(best / 200);
    assert.ok(bx >= 80 && bx <= 89, `peak x ${bx}`);
    assert.ok(by >= 60 && by <= 69, `peak y ${by}`);
    assert.equal(out[0], 0, "pixels outside every tile are 0");
  });

  it("blends overlaps with a weighted mean, not a sum", () => {
    const a = tileMap({ x: 0, y: 0, width: 64, height: 64 }, 8, () => 1);
    const b = tileMap({ x: 32, y: 0, width: 64, height: 64 }, 8, () => 3);
    const out = toPixels(stitchMaps([a, b], 96, 64));
    const mid = out[32 * 96 + 48];
    assert.ok(mid > 1 && mid < 3, `overlap value ${mid}`);
    assert.ok(Math.abs(out[32 * 96 + 2] - 1) < 1e-6);
    assert.ok(Math.abs(out[32 * 96 + 93] - 3) < 1e-6);
  });

  it("gives every frame of a plan the same map whatever order its tiles come in", () => {
    const rects = tilePlan(300, 200, { mode: "grid", tile: 128, overlap: 32 });
    const tiles = rects.map((r, i) => tileMap(r, 16, (u, v) => Math.sin(u * 0.7 + i) + Math.cos(v * 0.3 - i)));
    const first = stitchMaps(tiles, 300, 200).data;
    const again = stitchMaps(tiles.slice().reverse(), 300, 200).data;
    assert.equal(first.length, again.length);
    for (let i = 0; i < first.length; i++) assert.ok(Math.abs(first[i] - again[i]) < 1e-5, `cell ${i}: ${first[i]} vs ${again[i]}`);
  });

  it("weighs a frame by its own tiles, not by another frame's plan on the same ROI", () => {
    const a = tileMap({ x: 0, y: 0, width: 64, height: 64 }, 8, () => 1);
    const b = tileMap({ x: 32, y: 0, width: 64, height: 64 }, 8, () => 3);
    stitchMaps([a, b], 96, 64);
    const alone = toPixels(stitchMaps([a], 96, 64));
    // Where a alone covers the overlap its value must stay 1, not be divided by a and b's weights.
    assert.ok(Math.abs(alone[32 * 96 + 48] - 1) < 1e-6, `overlap value ${alone[32 * 96 + 48]}`);
    assert.equal(alone[32 * 96 + 80], 0, "cells no tile of this frame covers are 0");
  });
});

describe("StitchAccumulator, WebAssembly SIMD and JavaScript paths", () => {
  const kernel = StitchKernel.create();

  it("compiles on Node 20 and is built from stitchSimd.wat as committed", () => {
    assert.ok(kernel, "StitchKernel.create() returned null");
    const out = execFileSync(process.execPath, ["scripts/buildWasm.mjs", "--check"], { encoding: "utf8" });
    assert.match(out, /matches stitchSimd\.wat/);
  });

  // Grid plans (cells of 4 px on 64 px maps), a ROI smaller than its tile, cells of 1 px with
  // covered column counts that are not multiples of 4 (the kernel's scalar tail), uneven maps.
  const cases: { name: string; W: number; H: number; tiles: TileMap[]; step: number }[] = [];
  const rnd = (seed: number) => () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const withMaps = (rects: TileMap["rect"][], mw: number, mh: number, seed: number): TileMap[] => {
    const r = rnd(seed);
    return rects.map((rect, index) => {
      const map = new Float32Array(mw * mh);
      for (let i = 0; i < map.length; i++) map[i] = r() * 4 - 1;
      return { frame_key: "c/1", index, count: rects.length, rect, map, map_width: mw, map_height: mh };
    });
  };
  cases.push({ name: "1280x720, 512 px tiles, 64 px maps", W: 1280, H: 720, tiles: withMaps(tilePlan(1280, 720, { mode: "grid", tile: 512, overlap: 32 }), 64, 64, 1), step: 4 });
  cases.push({ name: "ROI smaller than its tile", W: 300, H: 170, tiles: withMaps(tilePlan(300, 170, { mode: "grid", tile: 512, overlap: 32 }), 64, 64, 2), step: 4 });
  cases.push({ name: "odd sizes, 1 px cells", W: 203, H: 97, tiles: withMaps(tilePlan(203, 97, { mode: "grid", tile: 61, overlap: 13 }), 15, 15, 3), step: 1 });
  cases.push({ name: "uneven map, 3 px cells", W: 250, H: 190, tiles: withMaps([{ x: 7, y: 3, width: 230, height: 181 }], 37, 29, 4), step: 3 });

  for (const c of cases) {
    it(`gives the JavaScript path's map, ${c.name}`, () => {
      const js = new StitchAccumulator(c.W, c.H, c.step, null);
      const wasm = new StitchAccumulator(c.W, c.H, c.step, kernel);
      for (const t of c.tiles) {
        js.add(t);
        wasm.add(t);
      }
      const a = js.finish(), b = wasm.finish();
      assert.deepEqual([b.width, b.height, b.step], [a.width, a.height, a.step]);
      let worst = 0;
      for (let i = 0; i < a.data.length; i++) worst = Math.max(worst, Math.abs(a.data[i] - b.data[i]));
      assert.ok(worst < 1e-5, `largest difference ${worst}`);
      assert.ok(a.data.some((v) => v !== 0), "the case stitches something");
    });
  }

  it("keeps frames in flight apart and gives their memory back", () => {
    const k = StitchKernel.create()!;
    const c = cases[0];
    const frames = [0, 1, 2].map(() => new StitchAccumulator(c.W, c.H, c.step, k));
    // Tiles of three frames interleaved, as batches bring them; frame i's maps scaled by i + 1.
    for (const t of c.tiles) frames.forEach((f, i) => f.add({ ...t, map: t.map.map((v) => v * (i + 1)) }));
    assert.equal(k.openGrids, 3);
    const maps = frames.map((f) => f.finish().data);
    for (let i = 0; i < maps[0].length; i += 97) {
      assert.ok(Math.abs(maps[1][i] - 2 * maps[0][i]) < 1e-5 && Math.abs(maps[2][i] - 3 * maps[0][i]) < 1e-5, `cell ${i}`);
    }
    assert.equal(k.openGrids, 0);
    const dropped = new StitchAccumulator(c.W, c.H, c.step, k);
    dropped.add(c.tiles[0]);
    dropped.dispose();
    assert.equal(k.openGrids, 0, "a disposed accumulator gives its grid back");
    assert.throws(() => dropped.add(c.tiles[0]), /after finish or dispose/);
  });

  it("does not grow its memory with every new image size", () => {
    const k = StitchKernel.create()!;
    const sizes: number[] = [];
    for (let n = 0; n < 60; n++) {
      const W = 200 + n * 7, H = 150 + n * 5;
      const acc = new StitchAccumulator(W, H, 1, k);
      acc.add(tileMap({ x: 0, y: 0, width: W, height: H }, 64, (u, v) => u + v));
      acc.finish();
      sizes.push(k.memoryBytes);
    }
    // The largest image alone needs (613 x 445 cells + scratch) x 4 bytes, about 1.2 MB.
    assert.ok(sizes[sizes.length - 1] < 2 * 1024 * 1024, `memory ${sizes[sizes.length - 1]} bytes`);
  });
});
