import type { ProviderConfig } from "../config/schema.js";

/**
 * Main thread <-> an inference worker. onnxruntime-node's addon cannot be loaded again by a thread
 * started after one that loaded it has ended ("Module did not self-register"), so the workers live
 * as long as the process and each hosts every session it was asked to load, each under its own id
 * (see InferenceHost).
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
      /** ONNX output name of the patch features, or null when the model has none. */
      featuresName: string | null;
      /** models/nn-distance.onnx, the nearest-neighbour graph for feature banks. */
      nnGraphPath: string;
    }
  | {
      op: "run";
      session: number;
      id: number;
      n: number;
      /** n inputs packed; may be a view of a larger buffer, which comes back in the reply for reuse. */
      input: Float32Array;
      /** Return the features output too (for building a reference). */
      features?: boolean;
      /** Per input: the feature bank to fuse its map with, 0 for none. */
      banks?: Int32Array;
    }
  | { op: "release"; session: number; id: number }
  | ({ op: "bank_set"; session: number; id: number; bank: number } & BankData)
  | { op: "bank_drop"; session: number; id: number; bank: number }
  | {
      op: "bank_build";
      session: number;
      id: number;
      /** Patch features of each part (an image, or half of one when there is a single image), rows of `dim`. */
      parts: Float32Array[];
      dim: number;
      /** Largest bank, patches; more are thinned by a greedy coreset. */
      max: number;
    };

/** A memory bank of good patch features and how its distances become calibrated map values. */
export interface BankData {
  /** count x dim, row-major. */
  features: Float32Array;
  dim: number;
  count: number;
  /** calibrated = (distance - offset) / scale. */
  calibration: { offset: number; scale: number };
  /** fused = max(map, calibrated distance) when 1; weight * distance + (1 - weight) * map otherwise. */
  weight: number;
}

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
  /** Patch features [N, C, h, w] when the request asked for them. */
  features: Float32Array | null;
  /** [C, h, w] of one input's features. */
  feature_dims: number[] | null;
  /** Time spent in session.run and calibration, ms. */
  ms: number;
  /** Of `ms`, the nearest-neighbour search and fusion, ms. */
  nn_ms: number;
  /** The request's input buffer, handed back so the sender can reuse it. */
  input: ArrayBuffer;
  /** The thread id of the worker that ran it. */
  worker: number;
}

/** A bank built from parts: thinned features and the calibration from leave-one-part-out distances. */
export interface BankBuiltReply {
  op: "bank_built";
  session: number;
  id: number;
  features: Float32Array;
  count: number;
  calibration: { offset: number; scale: number };
  ms: number;
}

export type WorkerReply =
  | InitReply
  | RunReply
  | BankBuiltReply
  | { op: "released" | "bank_done"; session: number; id: number }
  | { op: "error"; session: number; id: number; error: string };
