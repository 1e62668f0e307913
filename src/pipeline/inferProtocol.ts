import type { ProviderConfig } from "../config/schema.js";

/**
 * Main thread <-> the inference worker. onnxruntime-node's addon can be loaded by one thread of a
 * process only (a later worker gets "Module did not self-register"), so one worker lives as long as
 * the process and hosts every session, each under its own id.
 */
export type WorkerRequest =
  | {
      op: "init";
      session: number;
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
  | {
      op: "run";
      session: number;
      id: number;
      n: number;
      /** n inputs packed; may be a view of a larger buffer, which comes back in the reply for reuse. */
      input: Float32Array;
    }
  | { op: "release"; session: number; id: number };

/** What the ONNX really declares, for the manifest check. */
export interface ValueInfo {
  name: string;
  shape: (number | string)[];
  type: string;
}

export type InitReply =
  | { op: "init"; session: number; ok: true; provider: string; skipped: { provider: string; error: string }[]; inputs: ValueInfo[]; outputs: ValueInfo[] }
  | { op: "init"; session: number; ok: false; skipped: { provider: string; error: string }[] };

/** Calibrated maps, N x map_height x map_width, and scores when the model has a score head. */
export interface RunReply {
  op: "run";
  session: number;
  id: number;
  maps: Float32Array;
  map_height: number;
  map_width: number;
  scores: Float32Array | null;
  /** Time spent in session.run and calibration, ms. */
  ms: number;
  /** The request's input buffer, handed back so the sender can reuse it. */
  input: ArrayBuffer;
}

export type WorkerReply = InitReply | RunReply | { op: "released"; session: number; id: number } | { op: "error"; session: number; id: number; error: string };
