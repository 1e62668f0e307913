import { STITCH_SIMD_WASM } from "./stitchSimdWasm.js";
import { instantiate, WASM_PAGE, type WasmMemory } from "./wasm.js";

/** The exports of stitchSimd.wat. */
interface Exports {
  memory: WasmMemory;
  add_tile(
    acc: number, gw: number, c0: number,
    map: number, mw: number, mh: number,
    cols: number, u0: number, u1: number, wu0: number, wu1: number,
    n: number, rowsOut: number, v0: number, v1: number, wv0: number, wv1: number,
    rows: number,
  ): void;
}

/** How one tile lands on a grid's cells: which cells, and the interpolation weights. */
export interface FootprintTables {
  /** First cell column, and how many columns the tile covers. */
  c0: number;
  cols: number;
  /** Per covered column: the two map columns it reads and their weights (edge ramp folded in). */
  u0: Int32Array;
  u1: Int32Array;
  wu0: Float32Array;
  wu1: Float32Array;
  /** Per covered cell row: its index, the two map rows it reads and their weights (ramp folded in). */
  rowsOut: Int32Array;
  v0: Int32Array;
  v1: Int32Array;
  wv0: Float32Array;
  wv1: Float32Array;
}

/**
 * The blending of a tile map into a stitch grid with WebAssembly SIMD: each frame's grid lives in
 * the module's memory from its first tile to {@link read}, and a tile's map and footprint tables
 * are copied in for the call (16 KB and ~2.5 KB for a 64 x 64 map on 128 cells). 18-19 us a tile
 * against 144 for the JavaScript loops (1280x720 ROI, 512 px tiles, 64 x 64 maps, cells of 4 px,
 * on this project's 2-core box; bench/README.md, ninth session).
 *
 * Memory is handed out in blocks that are reused best-fit without splitting (a camera's frames
 * are all one size, so its grids reuse each other's blocks) and all of it is reset whenever no
 * grid is open, so images of many sizes (eval) do not pile up. A grid never read is given back
 * when its owner is collected, so a frame dropped half-stitched costs memory for a while, not for
 * good. Memory grows to the largest need seen and stays.
 */
export class StitchKernel {
  /** Free blocks: offset -> bytes. */
  private readonly free = new Map<number, number>();
  /** Blocks handed out: offset -> their whole size. */
  private readonly held = new Map<number, number>();
  /** Offsets of the open grids. */
  private readonly open = new Set<number>();
  /** First byte never handed out. */
  private top = 0;
  /** The per-call scratch block (map, tables, interpolated rows). */
  private scratch = { at: 0, bytes: 0 };
  private readonly collected = new FinalizationRegistry<number>((at) => this.close(at));

  private constructor(private readonly k: Exports) {}

  /** The kernel, or null where this runtime has no WebAssembly SIMD. */
  static create(): StitchKernel | null {
    const k = instantiate<Exports>(STITCH_SIMD_WASM);
    return k && new StitchKernel(k);
  }

  /** A zeroed grid of `cells` floats, given back by {@link read} or {@link release}, or when `owner` is collected. */
  openGrid(cells: number, owner: object): number {
    const at = this.alloc(cells * 4);
    this.open.add(at);
    new Float32Array(this.k.memory.buffer, at, cells).fill(0);
    this.collected.register(owner, at, owner);
    return at;
  }

  /** Blends one tile map into the grid at `grid` (`gw` cells a row). */
  add(grid: number, gw: number, map: Float32Array, mw: number, mh: number, fp: FootprintTables): void {
    const { cols } = fp;
    const n = fp.rowsOut.length;
    const need = 4 * (mw * mh + 4 * cols + 5 * n + mh * cols);
    if (this.scratch.bytes < need) {
      if (this.scratch.bytes > 0) this.giveBack(this.scratch.at);
      this.scratch = { at: this.alloc(need), bytes: need };
    }
    const buf = this.k.memory.buffer;
    let p = this.scratch.at;
    const put = (a: Float32Array | Int32Array): number => {
      const at = p;
      (a instanceof Float32Array ? new Float32Array(buf, at, a.length) : new Int32Array(buf, at, a.length)).set(a);
      p += a.length * 4;
      return at;
    };
    const m = put(map.length === mw * mh ? map : map.subarray(0, mw * mh));
    const u0 = put(fp.u0), u1 = put(fp.u1), wu0 = put(fp.wu0), wu1 = put(fp.wu1);
    const rowsOut = put(fp.rowsOut), v0 = put(fp.v0), v1 = put(fp.v1), wv0 = put(fp.wv0), wv1 = put(fp.wv1);
    this.k.add_tile(grid, gw, fp.c0, m, mw, mh, cols, u0, u1, wu0, wu1, n, rowsOut, v0, v1, wv0, wv1, p);
  }

  /** Writes the grid at `grid` times `inv`, cell by cell, into a new array and gives the grid back. */
  read(grid: number, inv: Float32Array, owner: object): Float32Array {
    const acc = new Float32Array(this.k.memory.buffer, grid, inv.length);
    const out = new Float32Array(inv.length);
    for (let i = 0; i < out.length; i++) out[i] = acc[i] * inv[i];
    this.release(grid, owner);
    return out;
  }

  /** Gives an open grid back without reading it (a frame whose tiles will not all come). */
  release(grid: number, owner: object): void {
    this.collected.unregister(owner);
    this.close(grid);
  }

  /** Grids open now (for tests). */
  get openGrids(): number {
    return this.open.size;
  }

  /** Bytes of the module's memory (for tests: it must not grow with every new image size). */
  get memoryBytes(): number {
    return this.k.memory.buffer.byteLength;
  }

  private close(grid: number): void {
    if (!this.open.delete(grid)) return;
    if (this.open.size > 0) return this.giveBack(grid);
    // Nothing open: all memory is free, the scratch block too (it holds nothing between calls).
    this.free.clear();
    this.held.clear();
    this.top = 0;
    this.scratch = { at: 0, bytes: 0 };
  }

  /** A block of at least `bytes`: the smallest free one that fits, else new memory at the top. */
  private alloc(bytes: number): number {
    let best = -1;
    for (const [at, size] of this.free) if (size >= bytes && (best < 0 || size < this.free.get(best)!)) best = at;
    if (best >= 0) {
      // Not split: the block keeps its whole size, and is whole again when given back.
      this.held.set(best, this.free.get(best)!);
      this.free.delete(best);
      return best;
    }
    const at = this.top;
    const size = (bytes + 15) & ~15;
    this.top += size;
    this.held.set(at, size);
    const mem = this.k.memory;
    if (mem.buffer.byteLength < this.top) mem.grow(Math.ceil((this.top - mem.buffer.byteLength) / WASM_PAGE));
    return at;
  }

  private giveBack(at: number): void {
    const size = this.held.get(at);
    if (size === undefined) return;
    this.held.delete(at);
    this.free.set(at, size);
  }
}
