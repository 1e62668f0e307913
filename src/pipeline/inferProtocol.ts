import type { ProviderConfig } from "../config/schema.js";

/** Main thread -> inference worker. */
export type WorkerRequest =
  | {
      op: "init";
      modelPath: string;
      providers: ProviderConfig[];
      threads: number;
      inputName: string;
      mapName: string;
      scoreName: string | null;
      /** [C, H, W] of one input. */
      inputDims: number[];
      calibration: { offset: number; scale: number };
    }
  | { op: "run"; id: number; n: number; input: Float32Array }
  | { op: "close" };

/** What the ONNX really declares, for the manifest check. */
export interface ValueInfo {
  name: string;
  shape: (number | string)[];
  type: string;
}

export type InitReply =
  | { op: "init"; ok: true; provider: string; skipped: { provider: string; error: string }[]; inputs: ValueInfo[]; outputs: ValueInfo[] }
  | { op: "init"; ok: false; skipped: { provider: string; error: string }[] };

/** Calibrated maps, N x map_height x map_width, and scores when the model has a score head. */
export interface RunReply {
  op: "run";
  id: number;
  maps: Float32Array;
  map_height: number;
  map_width: number;
  scores: Float32Array | null;
  /** Time spent in session.run and calibration, ms. */
  ms: number;
}

export type WorkerReply = InitReply | RunReply | { op: "error"; id: number; error: string };
