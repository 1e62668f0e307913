import type { TileRect } from "../types.js";
import type { Affine } from "./halve.js";
import { HALVE_SIMD_WASM } from "./halveSimdWasm.js";
import { instantiate, WASM_PAGE, type WasmMemory } from "./wasm.js";

/** The exports of halveSimd.wat. */
interface Kernels {
  memory: WasmMemory;
  halve_rgb(src: number, stride: number, dst: number, mw: number, mh: number, a0: number, a1: number, a2: number, b0: number, b1: number, b2: number): void;
  halve_gray(src: number, stride: number, dst: number, mw: number, mh: number, k: number, a0: number, a1: number, a2: number, b0: number, b1: number, b2: number): void;
}

/** Bytes after the frame that the RGB kernel may read past a row's end (8), rounded up to the planes' alignment. */
const PAD = 16;

/**
 * The 2:1 tile reduction of halve.ts with WebAssembly SIMD: a frame is copied into the module's
 * memory once (one memcpy, 0.65-1 ms for 1080p RGB) and every tile cut from it is reduced there,
 * 16 bytes at a time: 0.27-0.32 ms a 512 px tile against 0.73-0.82 for halveWords on this
 * project's 2-core x86 box, 0.6 against 0.93 inside the loaded pipeline (bench/README.md, sixth
 * session). The result equals halveWords' up to float32 rounding of the affine.
 *
 * The image last copied is recognised by a key object (sampleTile passes the frame, a new object
 * per frame) together with its `data` array: a frame's pixels must not change while its tiles are
 * sampled (the pipeline never changes them). Keying on `data` alone is not enough: capture's
 * pooled buffers carry frame after frame, and a buffer passed as the same array would be taken
 * for the copy already there. Memory grows to the largest frame seen and stays.
 */
export class SimdHalver {
  private last: WeakRef<object> | null = null;
  private lastData: WeakRef<Uint8Array> | null = null;
  /** The padded size of that copy, PW * 65536 + PH. */
  private padded = 0;

  private constructor(private readonly k: Kernels) {}

  /** The halver, or null where this runtime has no WebAssembly SIMD. */
  static create(): SimdHalver | null {
    const k = instantiate<Kernels>(HALVE_SIMD_WASM);
    return k && new SimdHalver(k);
  }

  /**
   * Whether {@link halve} takes this layout: RGB to a 3-channel model with `mw` a multiple of 4, or
   * one channel to a 1- or 3-channel model with `mw` a multiple of 8.
   */
  static fits(ch: number, k: number, mw: number): boolean {
    return ch === 3 ? k === 3 && mw % 4 === 0 : ch === 1 && (k === 1 || k === 3) && mw % 8 === 0;
  }

  /**
   * Writes the 2:1 reduction of the `2*mw` x `2*mh` rect of `data` (a `W` x `H` image of `ch`
   * channels) into `out` as `k` CHW planes. The rect starts inside the image and may reach past
   * its right and bottom edges (a ROI smaller than a tile): the copy in then repeats the last
   * column and row out to the rect, which gives exactly the edge-clamped bilinear sampling of
   * sampleTile. The layout must pass {@link fits}. `key`: the image the data belongs to, the same
   * object for all its tiles and a new one for the next image (defaults to `data`).
   */
  halve(data: Uint8Array, W: number, H: number, ch: number, rect: TileRect, mw: number, mh: number, k: number, f: Affine, out: Float32Array, key: object = data): void {
    const PW = Math.max(W, rect.x + rect.width), PH = Math.max(H, rect.y + rect.height);
    const planes = k * mw * mh;
    const dst = (PW * PH * ch + PAD + 15) & ~15;
    this.reserve(dst + planes * 4);
    this.load(key, data, W, H, ch, PW, PH);
    const src = (rect.y * PW + rect.x) * ch;
    const [a0, a1 = a0, a2 = a0] = f.a;
    const [b0, b1 = b0, b2 = b0] = f.b;
    if (ch === 3) this.k.halve_rgb(src, PW * 3, dst, mw, mh, a0, a1, a2, b0, b1, b2);
    else this.k.halve_gray(src, PW, dst, mw, mh, k, a0, a1, a2, b0, b1, b2);
    out.set(new Float32Array(this.k.memory.buffer, dst, planes));
  }

  /** Grows the module's memory to at least `bytes`. */
  private reserve(bytes: number): void {
    const mem = this.k.memory;
    if (mem.buffer.byteLength < bytes) mem.grow(Math.ceil((bytes - mem.buffer.byteLength) / WASM_PAGE));
  }

  /** Copies `data` to the start of memory as a `PW` x `PH` image unless that copy (of `key`) is already there. */
  private load(key: object, data: Uint8Array, W: number, H: number, ch: number, PW: number, PH: number): void {
    if (this.last?.deref() === key && this.lastData?.deref() === data && this.padded === PW * 65536 + PH) return;
    copyPadded(new Uint8Array(this.k.memory.buffer), data, W, H, ch, PW, PH);
    this.last = new WeakRef(key);
    this.lastData = new WeakRef(data);
    this.padded = PW * 65536 + PH;
  }
}

/**
 * Copies a `W` x `H` image of `ch` channels to the start of `mem` as a `PW` x `PH` one (PW >= W,
 * PH >= H), repeating its last column and last row into the margin.
 */
function copyPadded(mem: Uint8Array, data: Uint8Array, W: number, H: number, ch: number, PW: number, PH: number): void {
  const row = W * ch, prow = PW * ch;
  if (PW === W) mem.set(data.subarray(0, row * H));
  else {
    for (let y = 0; y < H; y++) {
      const o = y * prow;
      mem.set(data.subarray(y * row, y * row + row), o);
      // The last pixel once, then the margin doubled: log2 copies a row, not one a pixel.
      mem.copyWithin(o + row, o + row - ch, o + row);
      for (let filled = ch; row + filled < prow; ) {
        const m = Math.min(filled, prow - row - filled);
        mem.copyWithin(o + row + filled, o + row, o + row + m);
        filled += m;
      }
    }
  }
  for (let y = H; y < PH; y++) mem.copyWithin(y * prow, (H - 1) * prow, H * prow);
}
