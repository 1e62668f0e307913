import { Subject, type Observable } from "rxjs";
import type { RoiFrame } from "../types.js";

/** Per-camera counters kept by the gate. */
export interface GateStats {
  admitted: number;
  dropped: number;
  waiting: number;
}

/**
 * Admission control between capture and inference. Each camera may have at most `maxWaiting`
 * frames waiting; a new frame beyond that pushes out that camera's oldest (counted as dropped).
 * Frames are let through, round-robin across cameras, while fewer than `maxInflightCost` tiles are
 * in flight (the last one let through may take it past), so a slow model bounds latency instead
 * of growing a queue. `done()` returns a frame's cost once it is decided (or failed).
 */
export class FrameGate {
  private readonly queues = new Map<string, RoiFrame[]>();
  private readonly stats = new Map<string, GateStats>();
  private readonly inflight = new Map<string, { frame: RoiFrame; cost: number }>();
  private inflightCost = 0;
  private readonly lastServed = new Map<string, number>();
  private tick = 0;
  private readonly out = new Subject<RoiFrame>();
  private readonly roomSubject = new Subject<void>();
  /** Frames released to inference, in release order. */
  readonly released$: Observable<RoiFrame> = this.out.asObservable();
  /** Emits when {@link wants} may have turned true for some camera (a frame was released or done). */
  readonly room$: Observable<void> = this.roomSubject.asObservable();

  constructor(
    private readonly maxWaiting: number,
    private readonly maxInflightCost: number,
    private readonly cost: (f: RoiFrame) => number,
    private readonly keyOf: (f: RoiFrame) => string,
  ) {}

  /** Queues a frame from capture; may drop that camera's oldest waiting frame. */
  admit(frame: RoiFrame): void {
    let q = this.queues.get(frame.camera);
    if (!q) this.queues.set(frame.camera, (q = []));
    const s = this.statsOf(frame.camera);
    s.admitted++;
    q.push(frame);
    while (q.length > this.maxWaiting) {
      q.shift()!.release?.();
      s.dropped++;
    }
    this.pump();
  }

  /** The frame behind an in-flight key, while it is in flight. */
  get(key: string): RoiFrame | undefined {
    return this.inflight.get(key)?.frame;
  }

  /** Marks an in-flight frame finished and lets more through. */
  done(key: string): void {
    const f = this.inflight.get(key);
    if (!f) return;
    this.inflight.delete(key);
    this.inflightCost -= f.cost;
    this.pump();
    if (this.inflightCost < this.maxInflightCost) this.roomSubject.next();
  }

  /**
   * Whether a new frame of `camera` would go through now: none of its frames waits and the tiles in
   * flight leave room. Capture asks before it takes the next frame from its source, so frames the
   * pipeline has no room for are dropped in the source (GStreamer's appsink) without ever being
   * copied into the process, and the frame taken is the freshest there.
   */
  wants(camera: string): boolean {
    return !this.queues.get(camera)?.length && this.inflightCost < this.maxInflightCost;
  }

  /** Counters per camera, with the current number waiting. */
  statsOf(camera: string): GateStats {
    let s = this.stats.get(camera);
    if (!s) this.stats.set(camera, (s = { admitted: 0, dropped: 0, waiting: 0 }));
    s.waiting = this.queues.get(camera)?.length ?? 0;
    return s;
  }

  /** Frames in flight (released, not yet done). */
  get inflightCount(): number {
    return this.inflight.size;
  }

  /** Ends the released and room streams. */
  complete(): void {
    this.out.complete();
    this.roomSubject.complete();
  }

  private pump(): void {
    for (;;) {
      // Least recently served camera first: round-robin that stays fair as cameras come and go.
      let pick: string | null = null;
      for (const [cam, q] of this.queues) {
        if (q.length && (pick === null || (this.lastServed.get(cam) ?? -1) < (this.lastServed.get(pick) ?? -1))) pick = cam;
      }
      if (pick === null) return;
      const q = this.queues.get(pick)!;
      const c = this.cost(q[0]);
      // Any frame goes through while there is room, so an empty pipeline takes one however costly.
      if (this.inflightCost >= this.maxInflightCost) return;
      const frame = q.shift()!;
      this.lastServed.set(pick, this.tick++);
      this.inflight.set(this.keyOf(frame), { frame, cost: c });
      this.inflightCost += c;
      this.out.next(frame);
    }
  }
}
