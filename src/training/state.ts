/** The training state checkpoint of one step: weights, optimizer state, progress. */
import { decodeCheckpoint, encodeCheckpoint, CheckpointError } from "../model/checkpoint.ts";
import type { Tensors } from "../model/network.ts";
import type { Progress, TrainState } from "../model/trainer.ts";

interface StateMeta {
  kind: "train-state";
  seq: number;
  t: number;
  progress: Progress;
}

export function encodeState(state: TrainState, seq: number): Uint8Array {
  const tensors: Tensors = { ...state.params };
  for (const [k, v] of Object.entries(state.adam.m)) tensors[`adam.m.${k}`] = v;
  for (const [k, v] of Object.entries(state.adam.v)) tensors[`adam.v.${k}`] = v;
  const meta: StateMeta = { kind: "train-state", seq, t: state.adam.t, progress: state.progress };
  return encodeCheckpoint(meta, tensors);
}

export function decodeState(bytes: Uint8Array, expectedSeq: number): TrainState {
  const { meta, tensors } = decodeCheckpoint<StateMeta>(bytes);
  if (meta.kind !== "train-state") throw new CheckpointError(`expected a training state, found ${meta.kind}`);
  if (meta.seq !== expectedSeq) throw new CheckpointError(`checkpoint holds step ${meta.seq}, expected ${expectedSeq}`);
  const params: Tensors = {};
  const m: Tensors = {};
  const v: Tensors = {};
  for (const [k, t] of Object.entries(tensors)) {
    if (k.startsWith("adam.m.")) m[k.slice(7)] = t;
    else if (k.startsWith("adam.v.")) v[k.slice(7)] = t;
    else params[k] = t;
  }
  // JSON has no Infinity: an untouched best_loss comes back as null.
  const progress = { ...meta.progress, best_loss: meta.progress.best_loss ?? Infinity, top_loss: meta.progress.top_loss ?? Infinity };
  return { params, adam: { t: meta.t, m, v }, progress };
}
