import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { toPixels } from "../../src/pipeline/roiMap.js";
import { stitchMaps } from "../../src/pipeline/stitch.js";
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
