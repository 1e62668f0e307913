import { Observable, type OperatorFunction } from "rxjs";
import type { RoiFrame, TileMap } from "../types.js";
import type { RoiMap } from "./roiMap.js";
import { StitchAccumulator, stitchStep } from "./stitch.js";

/** A tile map, or the marker of a tile whose batch failed. */
export type TileOutcome = TileMap | (TileMap & { failed: true });

/** One frame with its stitched map. */
export interface StitchedFrame {
  frame: RoiFrame;
  map: RoiMap;
  /** Highest model score over the frame's tiles, when the model has a score head. */
  score?: number;
}

interface Parts {
  frame: RoiFrame | undefined;
  acc: StitchAccumulator | null;
  seen: number;
  failed: boolean;
  score: number | undefined;
}

/**
 * Collects the tile maps of each frame (they may arrive over several batches), blending each into
 * the frame's map as it arrives, and emits the frame with its stitched map once all its tiles are
 * in. A frame any of whose tiles failed is reported to `onFailed` once all its tiles are
 * accounted for, and not emitted.
 */
export function stitchFrames(
  frameOf: (key: string) => RoiFrame | undefined,
  onFailed: (key: string, camera: string, reason: string) => void,
): OperatorFunction<TileOutcome[], StitchedFrame> {
  return (source) =>
    new Observable<StitchedFrame>((subscriber) => {
      const parts = new Map<string, Parts>();
      const sub = source.subscribe({
        next: (outcomes) => {
          for (const t of outcomes) {
            let p = parts.get(t.frame_key);
            if (!p) {
              const frame = frameOf(t.frame_key);
              parts.set(t.frame_key, (p = { frame, acc: frame ? new StitchAccumulator(frame.width, frame.height, stitchStep(t)) : null, seen: 0, failed: false, score: undefined }));
            }
            p.seen++;
            if ("failed" in t) {
              p.failed = true;
              p.acc?.dispose();
              p.acc = null;
            } else if (p.acc) {
              p.acc.add(t);
              if (t.score !== undefined) p.score = p.score === undefined ? t.score : Math.max(p.score, t.score);
            }
            if (p.seen < t.count) continue;
            parts.delete(t.frame_key);
            if (!p.frame || !p.acc) {
              onFailed(t.frame_key, t.frame_key.split("/")[0], p.frame ? "inference failed" : "frame no longer in flight");
              continue;
            }
            subscriber.next({ frame: p.frame, map: p.acc.finish(), score: p.score });
          }
        },
        error: (err) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
      return () => {
        sub.unsubscribe();
        for (const p of parts.values()) p.acc?.dispose();
        parts.clear();
      };
    });
}
