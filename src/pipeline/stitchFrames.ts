import { Observable, type OperatorFunction } from "rxjs";
import type { RoiFrame, TileMap } from "../types.js";
import { stitchMaps } from "./stitch.js";

/** A tile map, or the marker of a tile whose batch failed. */
export type TileOutcome = TileMap | (TileMap & { failed: true });

/** One frame with its stitched map at ROI resolution. */
export interface StitchedFrame {
  frame: RoiFrame;
  map: Float32Array;
  /** Highest model score over the frame's tiles, when the model has a score head. */
  score?: number;
}

/**
 * Collects the tile maps of each frame (they may arrive over several batches) and emits the frame
 * with its stitched map once all its tiles are in. A frame any of whose tiles failed is reported
 * to `onFailed` once all its tiles are accounted for, and not emitted.
 */
export function stitchFrames(
  frameOf: (key: string) => RoiFrame | undefined,
  onFailed: (key: string, camera: string, reason: string) => void,
): OperatorFunction<TileOutcome[], StitchedFrame> {
  return (source) =>
    new Observable<StitchedFrame>((subscriber) => {
      const parts = new Map<string, { maps: TileMap[]; seen: number; failed: boolean }>();
      return source.subscribe({
        next: (outcomes) => {
          for (const t of outcomes) {
            let p = parts.get(t.frame_key);
            if (!p) parts.set(t.frame_key, (p = { maps: [], seen: 0, failed: false }));
            p.seen++;
            if ("failed" in t) p.failed = true;
            else p.maps.push(t);
            if (p.seen < t.count) continue;
            parts.delete(t.frame_key);
            const frame = frameOf(t.frame_key);
            if (!frame || p.failed) {
              onFailed(t.frame_key, t.frame_key.split("/")[0], frame ? "inference failed" : "frame no longer in flight");
              continue;
            }
            const scores = p.maps.map((m) => m.score).filter((s): s is number => s !== undefined);
            subscriber.next({
              frame,
              map: stitchMaps(p.maps, frame.width, frame.height),
              score: scores.length ? Math.max(...scores) : undefined,
            });
          }
        },
        error: (err) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
    });
}
