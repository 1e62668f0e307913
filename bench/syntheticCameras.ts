import { Observable } from "rxjs";
import type { Frame } from "../src/types.js";

/**
 * A textured RGB frame (gradients, stripes and noise, with a dark scratch) so the model does real
 * work and some frames fail; deterministic for a seed.
 */
export function syntheticImage(width: number, height: number, seed: number): Uint8Array {
  const data = new Uint8Array(width * height * 3);
  let s = seed * 2654435761 >>> 0 || 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
      const n = (s >>> 0) % 24;
      const base = 90 + 40 * Math.sin(x / 37 + seed) * Math.cos(y / 53) + n;
      const scratch = Math.abs(y - height / 2 - (x - width / 2) * 0.3) < 2 && Math.abs(x - width / 2) < width / 8 ? -60 : 0;
      const v = Math.max(0, Math.min(255, base + scratch));
      const i = (y * width + x) * 3;
      data[i] = v;
      data[i + 1] = v * 0.95;
      data[i + 2] = v * 0.9;
    }
  }
  return data;
}

/** Options for {@link syntheticCameras}. */
export interface SyntheticOptions {
  cameras: readonly string[];
  width: number;
  height: number;
  /** Frames per second per camera. */
  fps: number;
  /** Distinct images cycled through per camera. */
  images?: number;
}

/**
 * Frames from `cameras` at `fps` each, like capture delivers them: a fresh buffer per frame
 * (appsink hands over a new one every time), timestamped when it is emitted. Cameras are phase
 * shifted so their frames do not all arrive at once. Runs until unsubscribed.
 */
export function syntheticCameras(o: SyntheticOptions): Observable<Frame> {
  const images = Array.from({ length: o.images ?? 3 }, (_, i) => syntheticImage(o.width, o.height, i + 1));
  return new Observable<Frame>((sub) => {
    const period = 1000 / o.fps;
    const t0 = performance.now();
    const timers: NodeJS.Timeout[] = [];
    o.cameras.forEach((camera, c) => {
      let seq = 0;
      const offset = (c * period) / o.cameras.length;
      const tick = () => {
        const now = performance.now();
        const img = images[seq % images.length];
        sub.next({ camera, seq, captured_at: Date.now(), captured_mono: now, width: o.width, height: o.height, format: "RGB", data: new Uint8Array(img) });
        seq++;
        // Schedule against the ideal timeline so timer drift does not lower the rate.
        timers[c] = setTimeout(tick, Math.max(0, t0 + offset + seq * period - performance.now()));
      };
      timers[c] = setTimeout(tick, offset);
    });
    return () => timers.forEach((t) => clearTimeout(t));
  });
}
