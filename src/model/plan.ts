/**
 * The run plan: its phases (validation, then an optional refit on every
 * row) cut into queue steps, and where each step and epoch falls.
 */
import type { Hyper } from "./hyper.ts";
import { membersFor } from "./prepare.ts";

/** How one phase of training (a pass of `epochs` over `n_train` rows) is cut into queue steps. */
export interface Phase {
  n_train: number;
  epochs: number;
  batches_per_epoch: number;
  /** Batches of one step when a step is a slice of an epoch (else batches_per_epoch). */
  batches_per_step: number;
  /** Steps per epoch when an epoch spans steps (else 1). */
  steps_per_epoch: number;
  /** Whole epochs per step when a step holds several (else 1). */
  epochs_per_step: number;
  /** Steps of this phase (fewer when it stops early). */
  steps: number;
}

/**
 * The run: the validation phase (the top-level fields: training split,
 * validation each epoch, early stopping) and, with `refit`, a second phase
 * that retrains on every row for the chosen epoch's number of epochs.
 */
export interface Plan extends Phase {
  n_valid: number;
  /** Networks trained side by side (each step trains every one). */
  members: number;
  /**
   * Shards of a distributed run (config.distributed): each step is a round
   * in which N shard messages each train `batches_per_step` batches of their
   * own partition's epoch (partition.ts) in parallel before an aggregator
   * merges them; `batches_per_epoch` is then the largest partition's. 1 (or
   * absent): a single chain of steps.
   */
  shards?: number;
  /** Training rows of each shard's partition (a distributed run). */
  partitions?: number[];
  refit: Phase | null;
  /** Training steps at most (both phases); the step after the last one (or after an early stop) finalizes. */
  train_steps: number;
  /** train_steps + 1 (the final step). */
  total_steps: number;
  /** The estimated peak memory of a step and what a step may use (set when the run is accepted; footprint.ts). */
  memory?: { peak_mb: number; budget_mb: number };
}

/** Whether the run retrains on every row after the validation phase (never a distributed run: its shards hold training rows only). */
function refitFor(hyper: Hyper, nTrain: number, nValid: number, shards: number): boolean {
  if (nValid === 0 || shards > 1) return false;
  return hyper.refit === "auto" ? nTrain <= 2000 : hyper.refit;
}

/** Training rows per shard that `distributed.workers: "auto"` aims at. */
export const AUTO_ROWS_PER_SHARD = 2_000;
/** Shards `"auto"` chooses at most. */
export const AUTO_MAX_SHARDS = 8;

/**
 * The shards of a run with `nTrain` training rows: config.distributed's
 * workers ("auto": one per AUTO_ROWS_PER_SHARD rows, at most AUTO_MAX_SHARDS),
 * never more than an epoch has batches; 1 without config.distributed.
 */
export function shardsFor(hyper: Hyper, nTrain: number): number {
  const d = hyper.distributed;
  if (!d) return 1;
  const wanted = d.workers === "auto" ? Math.min(AUTO_MAX_SHARDS, Math.floor(nTrain / AUTO_ROWS_PER_SHARD)) : d.workers;
  return Math.max(1, Math.min(wanted, Math.ceil(nTrain / hyper.batch_size)));
}

/**
 * Cuts a phase into queue steps of about `examples_per_step` examples per
 * member: a slice of an epoch when an epoch is larger, else whole epochs.
 * With partitions (shards), a step is a round: each shard trains
 * `sync_every` batches of its own partition (at most a step's worth); an
 * epoch ends when the largest partition's does.
 */
function phasePlan(rows: number, hyper: Hyper, members: number, partitions: readonly number[] | null): Phase {
  // Each member trains on every example: a step's work is examples × members.
  const stepBatches = Math.max(1, Math.ceil(hyper.examples_per_step / members / hyper.batch_size));
  if (partitions) {
    const batchesPerEpoch = Math.max(1, ...partitions.map((n) => Math.ceil(n / hyper.batch_size)));
    const round = Math.min(batchesPerEpoch, stepBatches, hyper.distributed?.sync_every ?? stepBatches);
    const stepsPerEpoch = Math.ceil(batchesPerEpoch / round);
    return { n_train: rows, epochs: hyper.epochs, batches_per_epoch: batchesPerEpoch, batches_per_step: round, steps_per_epoch: stepsPerEpoch, epochs_per_step: 1, steps: stepsPerEpoch * hyper.epochs };
  }
  const batchesPerEpoch = Math.max(1, Math.ceil(rows / hyper.batch_size));
  const batchesPerStep = Math.min(batchesPerEpoch, stepBatches);
  const stepsPerEpoch = Math.ceil(batchesPerEpoch / batchesPerStep);
  const epochsPerStep = Math.max(1, Math.min(hyper.epochs, Math.floor(stepBatches / batchesPerEpoch)));
  return {
    n_train: rows,
    epochs: hyper.epochs,
    batches_per_epoch: batchesPerEpoch,
    batches_per_step: batchesPerStep,
    steps_per_epoch: stepsPerEpoch,
    epochs_per_step: epochsPerStep,
    // One of steps_per_epoch and epochs_per_step is 1.
    steps: stepsPerEpoch * Math.ceil(hyper.epochs / epochsPerStep),
  };
}

/** Training rows of each of `shards` partitions of one dataset's `nTrain` training rows: dealt round robin (partition.ts rolesOf). */
export function balancedPartitions(nTrain: number, shards: number): number[] {
  return Array.from({ length: shards }, (_, k) => Math.floor(nTrain / shards) + (k < nTrain % shards ? 1 : 0));
}

/**
 * The plan of a run with `nTrain` training and `nValid` held-out rows. A
 * distributed run's partitions: one dataset's are balanced (the default);
 * federated ones (one per dataset) come from the layout's roles.
 */
export function planRun(nTrain: number, nValid: number, hyper: Hyper, partitions?: readonly number[]): Plan {
  const members = membersFor(hyper, nTrain);
  const shards = partitions?.length ?? shardsFor(hyper, nTrain);
  const parts = shards > 1 ? [...(partitions ?? balancedPartitions(nTrain, shards))] : null;
  const validation = phasePlan(nTrain, hyper, members, parts);
  const refit = refitFor(hyper, nTrain, nValid, shards) ? phasePlan(nTrain + nValid, hyper, members, null) : null;
  const trainSteps = validation.steps + (refit?.steps ?? 0);
  return { ...validation, n_valid: nValid, members, ...(parts && { shards, partitions: parts }), refit, train_steps: trainSteps, total_steps: trainSteps + 1 };
}

/** Which epochs step `seq` trains, which slice of an epoch (part), and whether it ends its last epoch. */
export function stepPosition(plan: Phase, seq: number): { first: number; last: number; part: number; endsEpoch: boolean } {
  const block = Math.floor((seq - 1) / plan.steps_per_epoch);
  const part = (seq - 1) % plan.steps_per_epoch;
  const first = block * plan.epochs_per_step + 1;
  return { first, last: Math.min(plan.epochs, first + plan.epochs_per_step - 1), part, endsEpoch: part === plan.steps_per_epoch - 1 };
}

/**
 * The step whose state checkpoint holds the weights of the end of `epoch`,
 * or null when that epoch ended inside a step (then its weights are saved
 * on their own as the best model).
 */
export function stepEndingEpoch(plan: Phase, epoch: number): number | null {
  if (epoch % plan.epochs_per_step !== 0 && epoch !== plan.epochs) return null;
  return Math.ceil(epoch / plan.epochs_per_step) * plan.steps_per_epoch;
}

