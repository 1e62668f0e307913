import { Observable } from "rxjs";
import { SINK_MAX_BUFFERS } from "../src/capture/describe.js";
import { FramePool } from "../src/capture/framePool.js";
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
  /**
   * The consumer's demand, as the daemon gives it to capture (InspectionPipeline.wants / room$):
   * each camera then behaves like a live appsink (drop=true, max-buffers=2) whose pull loop waits
   * for demand, so frames without demand are dropped before their copy. Without it every frame is
   * delivered.
   */
  demand?: { wants: (camera: string) => boolean; room$: Observable<void> };
  /** Frames each camera's sink dropped, added to as they go (demand mode). */
  sinkDropped?: Map<string, number>;
}

/**
 * Frames from `cameras` at `fps` each, like capture delivers them: copied into a buffer from the
 * camera's FramePool (given back by the frame's `release`), stamped with the time the frame was made (so time
 * spent waiting in the sink counts in latency). Cameras are phase shifted so their frames do not
 * all arrive at once. Runs until unsubscribed.
 */
export function syntheticCameras(o: SyntheticOptions): Observable<Frame> {
  const images = Array.from({ length: o.images ?? 3 }, (_, i) => syntheticImage(o.width, o.height, i + 1));
  return new Observable<Frame>((sub) => {
    const period = 1000 / o.fps;
    const t0 = performance.now();
    const timers: NodeJS.Timeout[] = [];
    const resumers: (() => void)[] = [];
    const bytes = o.width * o.height * 3;
    o.cameras.forEach((camera, c) => {
      const pool = new FramePool();
      let made = 0;
      let seq = 0;
      /** Frames made and not taken: what the sink holds. */
      const sink: { made: number; mono: number; wall: number }[] = [];
      let parked = false;
      const deliver = () => {
        while (sink.length && !parked && !sub.closed) {
          const f = sink.shift()!;
          const buf = pool.take(bytes);
          buf.set(images[f.made % images.length]);
          sub.next({ camera, seq: seq++, captured_at: f.wall, captured_mono: f.mono, width: o.width, height: o.height, format: "RGB", data: buf, release: pool.giver(buf) });
          if (o.demand && !o.demand.wants(camera)) parked = true;
        }
      };
      resumers.push(() => {
        if (parked && o.demand?.wants(camera)) {
          parked = false;
          deliver();
        }
      });
      const offset = (c * period) / o.cameras.length;
      const tick = () => {
        sink.push({ made: made++, mono: performance.now(), wall: Date.now() });
        if (sink.length > SINK_MAX_BUFFERS) {
          sink.shift();
          o.sinkDropped?.set(camera, (o.sinkDropped.get(camera) ?? 0) + 1);
        }
        deliver();
        // Schedule against the ideal timeline so timer drift does not lower the rate.
        timers[c] = setTimeout(tick, Math.max(0, t0 + offset + made * period - performance.now()));
      };
      timers[c] = setTimeout(tick, offset);
    });
    const room = o.demand?.room$.subscribe(() => resumers.forEach((r) => r()));
    return () => {
      timers.forEach((t) => clearTimeout(t));
      room?.unsubscribe();
    };
  });
}
