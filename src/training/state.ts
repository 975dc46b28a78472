/** The training state checkpoint of one step: weights, optimizer state, progress. */
import { decodeCheckpoint, encodeCheckpoint, CheckpointError } from "../model/checkpoint.ts";
import type { Tensors } from "../model/network.ts";
import type { AdamState } from "../model/optimizer.ts";
import type { Progress, ShardReport, TrainState } from "../model/trainer.ts";
import type { ShardState } from "../model/aggregate.ts";

interface StateMeta {
  kind: "train-state";
  seq: number;
  t: number;
  progress: Progress;
}

/** Weights and optimizer moments as one dictionary (the moments under `adam.m.` and `adam.v.`). */
function withMoments(params: Tensors, adam: AdamState): Tensors {
  const tensors: Tensors = { ...params };
  for (const [k, v] of Object.entries(adam.m)) tensors[`adam.m.${k}`] = v;
  for (const [k, v] of Object.entries(adam.v)) tensors[`adam.v.${k}`] = v;
  return tensors;
}

/** `withMoments` undone; tensors under another `prefix.` are returned apart, by their name after it. */
function splitMoments(tensors: Tensors, prefix?: string): { params: Tensors; m: Tensors; v: Tensors; other: Tensors } {
  const params: Tensors = {};
  const m: Tensors = {};
  const v: Tensors = {};
  const other: Tensors = {};
  for (const [k, t] of Object.entries(tensors)) {
    if (k.startsWith("adam.m.")) m[k.slice(7)] = t;
    else if (k.startsWith("adam.v.")) v[k.slice(7)] = t;
    else if (prefix && k.startsWith(`${prefix}.`)) other[k.slice(prefix.length + 1)] = t;
    else params[k] = t;
  }
  return { params, m, v, other };
}

export function encodeState(state: TrainState, seq: number): Uint8Array {
  const tensors = withMoments(state.params, state.adam);
  for (const [k, t] of Object.entries(state.server ?? {})) tensors[`server.${k}`] = t;
  const meta: StateMeta = { kind: "train-state", seq, t: state.adam.t, progress: state.progress };
  return encodeCheckpoint(meta, tensors);
}

export function decodeState(bytes: Uint8Array, expectedSeq: number): TrainState {
  const { meta, tensors } = decodeCheckpoint<StateMeta>(bytes);
  if (meta.kind !== "train-state") throw new CheckpointError(`expected a training state, found ${meta.kind}`);
  if (meta.seq !== expectedSeq) throw new CheckpointError(`checkpoint holds step ${meta.seq}, expected ${expectedSeq}`);
  const { params, m, v, other: server } = splitMoments(tensors, "server");
  // JSON has no Infinity: an untouched best_loss comes back as null.
  const progress = { ...meta.progress, best_loss: meta.progress.best_loss ?? Infinity, top_loss: meta.progress.top_loss ?? Infinity };
  // The velocity is copied: as a view it would keep the whole checkpoint's bytes alive after the networks copied the rest in.
  const velocity = Object.fromEntries(Object.entries(server).map(([k, t]) => [k, t.slice()]));
  return { params, adam: { t: meta.t, m, v }, progress, ...(Object.keys(velocity).length > 0 && { server: velocity }) };
}

interface ShardMeta extends ShardReport {
  kind: "shard-state";
  seq: number;
  shard: number;
  t: number;
}

/** One shard's result of one round (aggregate.ts ShardState) and what it trained. */
export function encodeShard(state: ShardState, report: ShardReport, seq: number, shard: number): Uint8Array {
  const tensors = withMoments(state.params, state.adam);
  // Row ids as float32 are exact below 2^24 (vocabularies stay below 2^20).
  for (const [k, rows] of Object.entries(state.rows)) tensors[`rows.${k}`] = Float32Array.from(rows);
  const meta: ShardMeta = { kind: "shard-state", seq, shard, t: state.adam.t, loss_sum: report.loss_sum, examples: report.examples };
  return encodeCheckpoint(meta, tensors);
}

export function decodeShard(bytes: Uint8Array, seq: number, shard: number): { state: ShardState; report: ShardReport } {
  const { meta, tensors } = decodeCheckpoint<ShardMeta>(bytes);
  if (meta.kind !== "shard-state") throw new CheckpointError(`expected a shard's state, found ${meta.kind}`);
  if (meta.seq !== seq || meta.shard !== shard) throw new CheckpointError(`the object holds shard ${meta.shard} of round ${meta.seq}, expected shard ${shard} of round ${seq}`);
  const { params, m, v, other } = splitMoments(tensors, "rows");
  const rows = Object.fromEntries(Object.entries(other).map(([k, t]) => [k, Int32Array.from(t)]));
  return { state: { params, adam: { t: meta.t, m, v }, rows }, report: { loss_sum: meta.loss_sum, examples: meta.examples } };
}
