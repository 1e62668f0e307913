/**
 * The WebAssembly API this project uses. The DOM library declares it; this project builds with lib
 * ES2022 and @types/node 20, which do not, so the global is declared here for the modules below.
 */
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Instance {
    constructor(module: Module);
    readonly exports: Record<string, unknown>;
  }
}

/** The memory a module exports. */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

/** Bytes in a page of WebAssembly memory. */
export const WASM_PAGE = 65536;

/**
 * The exports of a module given as base64 (the generated *Wasm.ts files), or null where this
 * runtime cannot compile it (no WebAssembly, or no SIMD): callers then take their JavaScript path.
 */
export function instantiate<T>(base64: string): T | null {
  try {
    return new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(base64, "base64"))).exports as T;
  } catch {
    return null;
  }
}
