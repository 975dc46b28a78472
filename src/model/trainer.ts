/**
 * Training engine, free of Worker APIs: data preparation (classes, seeded
 * stratified split, features), the run plan, and one resumable step of
 * training. The queue consumer and the in-process benchmark both drive
 * training through `trainStep`, so they run the same code.
 */
import { buildVocabulary, countRows, inverseDocumentFrequency, toVocabularyRows, weightRows, type FeatureConfig, type SparseRows } from "./features.ts";
import { initParams, Network, type Arch, type LayerName, type Regularization, type Tensors } from "./network.ts";
import { Ensemble, joinMembers, memberSeed, memberTensors } from "./ensemble.ts";
import { adamStep, initAdam, type AdamConfig, type AdamState } from "./optimizer.ts";
import { permutation, Rng } from "./rng.ts";
import { fitTemperature } from "./calibration.ts";
import { encodeModel, type AgentModel } from "./model.ts";

export interface Example {
  input: string;
  expected_output: string;
}

export interface EarlyStopping {
  /** Epochs without improvement of validation accuracy before stopping. */
  patience: number;
  /** Smallest accuracy gain that counts as an improvement. */
  min_delta: number;
}

/** Every training lever, resolved (the API fills defaults). */
export interface Hyper extends Regularization {
  epochs: number;
  learning_rate: number;
  batch_size: number;
  seed: number;
  validation_split: number;
  weight_decay: number;
  /** Each class's output text also trains as an input of that class. */
  label_examples: boolean;
  embedding_optimizer: "adam" | "adagrad";
  /** Embedding rows start uniform in ±embedding_init/√dim. */
  embedding_init: number;
  embedding_lr_scale: number;
  lr_schedule: "constant" | "linear" | "cosine";
  warmup_fraction: number;
  early_stopping: EarlyStopping | null;
  /** The chosen epoch is the latest within this many standard errors of the top validation accuracy (0: the top one). */
  selection_tolerance: number;
  features: FeatureConfig;
  dim: number;
  hidden: number;
  /** Networks in the model's ensemble; "auto": 3 up to 2,000 training rows, 2 up to 4,000, else 1. */
  ensemble: number | "auto";
  /** Retrain on every row (validation too) after the validation phase; "auto": up to 2,000 training rows. */
  refit: boolean | "auto";
  /** Training examples per queue step (rounded up to whole batches). */
  examples_per_step: number;
  freeze_layers: LayerName[];
}

export interface Prepared {
  classes: string[];
  labels: Int32Array;
  train: Int32Array;
  valid: Int32Array;
  /** Every row, training and validation (what the refit phase trains on). */
  all: Int32Array;
  /** Networks in the ensemble (membersFor). */
  members: number;
  /** Sorted bucket ids of the embedding rows (learned from the training split). */
  vocab: Int32Array;
  /** IDF per embedding row. */
  idf: Float32Array;
  /** TF-IDF features over embedding rows, one row per example. */
  x: SparseRows;
}

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
  refit: Phase | null;
  /** Training steps at most (both phases); the step after the last one (or after an early stop) finalizes. */
  train_steps: number;
  /** train_steps + 1 (the final step). */
  total_steps: number;
}

export interface Progress {
  epoch_loss: number;
  epoch_examples: number;
  /** The chosen epoch (its weights become the version) and its validation metrics. */
  best_epoch: number;
  best_accuracy: number;
  best_loss: number;
  /** The top validation accuracy so far (ties: its loss). */
  top_accuracy: number;
  top_loss: number;
  /** Epochs since the top improved (early stopping's patience). */
  since_best: number;
  /** First step of the refit phase (0: not begun). */
  refit_from: number;
  stopped: boolean;
}

export interface TrainState {
  params: Tensors;
  adam: AdamState;
  progress: Progress;
}

export interface EpochMetrics {
  epoch: number;
  train_loss: number | null;
  valid_loss: number | null;
  valid_accuracy: number | null;
}

export interface StepReport {
  seq: number;
  /** The last epoch this step trained (in part or whole), counted within its phase. */
  epoch: number;
  /** The step belongs to the refit phase. */
  refit: boolean;
  examples: number;
  /** Mean training loss of this step's examples. */
  train_loss: number;
  /** Held-out metrics of the untrained network (epoch 0, first step only) and of each epoch this step ended. */
  epochs: EpochMetrics[];
  /** An epoch of this step is the best so far: its weights are the candidate version. */
  improved: boolean;
  /**
   * The best epoch's model (encoded, uncalibrated) when that epoch ended
   * inside this step rather than at its end (then its weights are not the
   * state's); null otherwise. Encoded at once: one copy of the weights.
   */
  best_model: Uint8Array | null;
  /** Training is over (both phases): the next step finalizes. */
  stop: boolean;
}

export const ADAM: Pick<AdamConfig, "beta1" | "beta2" | "epsilon"> = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };

export function archOf(hyper: Hyper, prepared: Pick<Prepared, "vocab" | "classes" | "members">): Arch {
  return { rows: prepared.vocab.length, dim: hyper.dim, hidden: hyper.hidden, classes: prepared.classes.length, members: prepared.members };
}

/** Embedding floats a model may hold over all its members (30,000 rows × 128: a version stays under 16 MB). */
export const MAX_EMBEDDING_FLOATS = 3_840_000;

/** Networks in the ensemble for `nTrain` training rows. */
export function membersFor(hyper: Hyper, nTrain: number): number {
  if (hyper.ensemble !== "auto") return hyper.ensemble;
  return nTrain <= 2000 ? 3 : nTrain <= 4000 ? 2 : 1;
}

/**
 * Classes (sorted distinct outputs), a seeded stratified split, the
 * vocabulary and TF-IDF features. With `label_examples`, each class's own
 * output text joins the training split as one more input of that class
 * (rows after the examples'; never held out).
 */
export function prepare(examples: readonly Example[], hyper: Hyper): Prepared {
  const { classes, labels: exampleLabels } = labelExamples(examples);
  const split = stratifiedSplit(exampleLabels, classes.length, hyper.seed, hyper.validation_split);
  const inputs = examples.map((e) => e.input);
  let labels = exampleLabels;
  let train = split.train;
  if (hyper.label_examples) {
    inputs.push(...classes);
    labels = Int32Array.from([...exampleLabels, ...classes.keys()]);
    train = Int32Array.from([...split.train, ...classes.map((_, c) => examples.length + c)]);
  }
  const f = hyper.features;
  const members = membersFor(hyper, train.length);
  // The members share the embedding budget.
  const maxRows = Math.max(1, Math.min(f.max_rows, Math.floor(MAX_EMBEDDING_FLOATS / (members * hyper.dim))));
  const hashed = countRows(inputs, f);
  const vocab = buildVocabulary(hashed, train, f.buckets, maxRows, f.min_df);
  const counts = toVocabularyRows(hashed, vocab);
  const idf = inverseDocumentFrequency(counts, train, vocab.length);
  const all = Int32Array.from([...train, ...split.valid]).sort();
  return { classes, labels, train, valid: split.valid, all, members, vocab, idf, x: weightRows(counts, idf) };
}

/** Sizes of the training and validation splits that `prepare` makes of these labels (the plan is cut from them). */
export function splitSizes(labels: Int32Array, classes: number, hyper: Hyper): { n_train: number; n_valid: number } {
  const { train, valid } = stratifiedSplit(labels, classes, hyper.seed, hyper.validation_split);
  return { n_train: train.length + (hyper.label_examples ? classes : 0), n_valid: valid.length };
}

/**
 * Seeded stratified split: each class keeps at least one training example
 * and holds out round(n × split) of the rest. Indices come back sorted.
 */
export function stratifiedSplit(labels: Int32Array, classes: number, seed: number, split: number): { train: Int32Array; valid: Int32Array } {
  const byClass: number[][] = Array.from({ length: classes }, () => []);
  labels.forEach((y, i) => byClass[y].push(i));
  const train: number[] = [];
  const valid: number[] = [];
  const rng = new Rng(seed, 0x5917);
  for (const members of byClass) {
    const ids = rng.shuffle(Int32Array.from(members));
    const nValid = Math.min(ids.length - 1, Math.round(ids.length * split));
    ids.forEach((id, k) => (k < nValid ? valid : train).push(id));
  }
  return { train: Int32Array.from(train).sort(), valid: Int32Array.from(valid).sort() };
}

/** Class index of each example (classes are the sorted distinct outputs). */
export function labelExamples(examples: readonly Example[]): { classes: string[]; labels: Int32Array } {
  const classes = [...new Set(examples.map((e) => e.expected_output))].sort();
  const index = new Map(classes.map((c, i) => [c, i]));
  return { classes, labels: Int32Array.from(examples, (e) => index.get(e.expected_output) ?? 0) };
}

/** Whether the run retrains on every row after the validation phase. */
export function refitFor(hyper: Hyper, nTrain: number, nValid: number): boolean {
  if (nValid === 0) return false;
  return hyper.refit === "auto" ? nTrain <= 2000 : hyper.refit;
}

/**
 * Cuts a phase into queue steps of about `examples_per_step` examples per
 * member: a slice of an epoch when an epoch is larger, else whole epochs.
 */
function phasePlan(rows: number, hyper: Hyper, members: number): Phase {
  const batchesPerEpoch = Math.max(1, Math.ceil(rows / hyper.batch_size));
  // Each member trains on every example: a step's work is examples × members.
  const stepBatches = Math.max(1, Math.ceil(hyper.examples_per_step / members / hyper.batch_size));
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

export function planRun(nTrain: number, nValid: number, hyper: Hyper): Plan {
  const members = membersFor(hyper, nTrain);
  const validation = phasePlan(nTrain, hyper, members);
  const refit = refitFor(hyper, nTrain, nValid) ? phasePlan(nTrain + nValid, hyper, members) : null;
  const trainSteps = validation.steps + (refit?.steps ?? 0);
  return { ...validation, n_valid: nValid, members, refit, train_steps: trainSteps, total_steps: trainSteps + 1 };
}

export function initState(prepared: Prepared, hyper: Hyper): TrainState {
  const arch = archOf(hyper, prepared);
  const members = Array.from({ length: arch.members }, (_, k) => initParams(arch, memberSeed(hyper.seed, k), hyper.embedding_init));
  const adam = members.map((params) => initAdam(params, arch, hyper.embedding_optimizer));
  return {
    params: joinMembers(members),
    adam: { t: 0, m: joinMembers(adam.map((a) => a.m)), v: joinMembers(adam.map((a) => a.v)) },
    progress: { epoch_loss: 0, epoch_examples: 0, best_epoch: 0, best_accuracy: -1, best_loss: Infinity, top_accuracy: -1, top_loss: Infinity, since_best: 0, refit_from: 0, stopped: false },
  };
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

function learningRate(hyper: Hyper, t: number, total: number): number {
  const warm = Math.floor(hyper.warmup_fraction * total);
  if (t < warm) return (hyper.learning_rate * (t + 1)) / warm;
  const f = total > warm ? (t - warm) / (total - warm) : 0;
  switch (hyper.lr_schedule) {
    case "constant":
      return hyper.learning_rate;
    case "linear":
      return hyper.learning_rate * Math.max(0.02, 1 - f);
    case "cosine":
      return hyper.learning_rate * Math.max(0.02, 0.5 * (1 + Math.cos(Math.PI * f)));
  }
}

/** Loss, accuracy and (optionally) the ensemble's mean logits on rows `rows`. */
export function evaluate(
  ens: Ensemble,
  prepared: Prepared,
  rows: Int32Array,
  keepLogits = false,
): { loss: number; accuracy: number; logits: Float32Array | null } {
  const C = ens.arch.classes;
  const logits = keepLogits ? new Float32Array(rows.length * C) : null;
  let loss = 0;
  let correct = 0;
  for (let k = 0; k < rows.length; k++) {
    const r = rows[k];
    ens.forward(prepared.x, r);
    const y = prepared.labels[r];
    loss -= Math.log(Math.max(ens.probs[y], 1e-12));
    let best = 0;
    for (let c = 1; c < C; c++) if (ens.probs[c] > ens.probs[best]) best = c;
    if (best === y) correct++;
    if (logits) logits.set(ens.logits, k * C);
  }
  const n = Math.max(1, rows.length);
  return { loss: loss / n, accuracy: correct / n, logits };
}

function validMetrics(ens: Ensemble, prepared: Prepared): { loss: number | null; accuracy: number | null } {
  if (prepared.valid.length === 0) return { loss: null, accuracy: null };
  const { loss, accuracy } = evaluate(ens, prepared, prepared.valid);
  return { loss, accuracy };
}

/**
 * Trains what step `seq` (1-based, ≤ plan.train_steps) owns — a slice of an
 * epoch or whole epochs — mutating `state`. In the validation phase each
 * epoch ends with validation, and early stopping may end the phase. Then
 * (with `plan.refit`) the refit phase starts over from the seeded weights on
 * every row and trains as many epochs as the chosen one had; without refit
 * training is over. Deterministic in (state, prepared, hyper, seq).
 */
export function trainStep(state: TrainState, prepared: Prepared, hyper: Hyper, plan: Plan, seq: number): StepReport {
  const p = state.progress;
  const refitting = plan.refit !== null && p.refit_from > 0 && seq >= p.refit_from;
  const phase = refitting ? plan.refit! : plan;
  const rows = refitting ? prepared.all : prepared.train;
  const local = refitting ? seq - p.refit_from + 1 : seq;
  if (phase.n_train !== rows.length) throw new Error(`the plan is for ${phase.n_train} training rows, the data have ${rows.length}`);
  if (plan.members !== prepared.members) throw new Error(`the plan is for ${plan.members} ensemble members, the data for ${prepared.members}`);
  if (refitting && local === 1) {
    const fresh = initState(prepared, hyper);
    state.params = fresh.params;
    state.adam = fresh.adam;
  }
  const rowsPerBatch = maxTouchedRows(prepared, hyper);
  const ens = new Ensemble(archOf(hyper, prepared), state.params, (k) => ({
    maxTouchedRows: rowsPerBatch,
    optimizer: { t: state.adam.t, m: memberTensors(state.adam.m, k), v: memberTensors(state.adam.v, k) },
  }));
  // From here on the networks' memories hold the state.
  state.params = ens.params;
  state.adam = { t: state.adam.t, m: joinMembers(ens.nets.map((n) => n.optimizer!.m)), v: joinMembers(ens.nets.map((n) => n.optimizer!.v)) };
  const frozen = new Set(hyper.freeze_layers);
  const { first, last: lastOfStep, part, endsEpoch } = stepPosition(phase, local);
  // The refit trains as many epochs as the chosen epoch of the validation phase had.
  const last = refitting ? Math.min(lastOfStep, p.best_epoch) : lastOfStep;
  const epochs: EpochMetrics[] = [];
  if (seq === 1) {
    const m = validMetrics(ens, prepared);
    epochs.push({ epoch: 0, train_loss: null, valid_loss: m.loss, valid_accuracy: m.accuracy });
  }
  const adam: AdamConfig = {
    ...ADAM,
    learning_rate: hyper.learning_rate,
    weight_decay: hyper.weight_decay,
    embedding: hyper.embedding_optimizer,
    embedding_lr_scale: hyper.embedding_lr_scale,
  };
  const firstBatch = part * phase.batches_per_step;
  const lastBatch = Math.min(phase.batches_per_epoch, firstBatch + phase.batches_per_step);
  let lossSum = 0;
  let examples = 0;
  let improved = false;
  let bestModel: Uint8Array | null = null;
  let epoch = first;
  for (; epoch <= last; epoch++) {
    // Every member trains on the same rows with its own shuffles and dropout.
    for (const [k, net] of ens.nets.entries()) {
      const done = trainBatches(net, prepared, rows, hyper, memberSeed(hyper.seed, k), phase, adam, frozen, epoch, firstBatch, lastBatch);
      lossSum += done.lossSum / ens.nets.length;
      p.epoch_loss += done.lossSum / ens.nets.length;
      if (k === 0) {
        examples += done.examples;
        p.epoch_examples += done.examples;
      }
    }
    state.adam.t = ens.nets[0].optimizer!.t;
    if (!endsEpoch) break;
    if (refitting) {
      // No held-out rows are left to validate on.
      p.epoch_loss = 0;
      p.epoch_examples = 0;
      if (epoch >= p.best_epoch) p.stopped = true;
      if (p.stopped) break;
      continue;
    }
    const m = endEpoch(ens, prepared, hyper, plan, p, epoch);
    epochs.push(m.metrics);
    if (m.improved) {
      improved = true;
      bestModel = stepEndingEpoch(plan, epoch) === seq ? null : encodeModel(toModel(state.params, prepared, hyper));
    }
    if (p.stopped) {
      if (plan.refit) {
        p.stopped = false;
        p.refit_from = seq + 1;
      }
      break;
    }
  }
  return {
    seq,
    epoch: Math.min(epoch, last),
    refit: refitting,
    examples,
    train_loss: lossSum / Math.max(1, examples),
    epochs,
    improved,
    best_model: bestModel,
    stop: p.stopped,
  };
}

/** Batches [firstBatch, lastBatch) of `epoch`: forward, backward and an optimizer step per batch. */
function trainBatches(
  net: Network,
  prepared: Prepared,
  rows: Int32Array,
  hyper: Hyper,
  seed: number,
  plan: Phase,
  adam: AdamConfig,
  frozen: ReadonlySet<LayerName>,
  epoch: number,
  firstBatch: number,
  lastBatch: number,
): { lossSum: number; examples: number } {
  const order = permutation(plan.n_train, seed, 0x10000 + epoch);
  const bs = hyper.batch_size;
  const totalBatches = plan.epochs * plan.batches_per_epoch;
  let lossSum = 0;
  let examples = 0;
  for (let b = firstBatch; b < lastBatch; b++) {
    const t = (epoch - 1) * plan.batches_per_epoch + b;
    const rng = hyper.dropout > 0 ? new Rng(seed, 0x200000 + t) : null;
    const from = b * bs;
    const to = Math.min(plan.n_train, from + bs);
    net.zeroGrad();
    const scale = 1 / (to - from);
    for (let k = from; k < to; k++) {
      const r = rows[order[k]];
      net.forward(prepared.x, r, rng, hyper.dropout);
      lossSum += net.backward(prepared.x, r, prepared.labels[r], hyper, rng !== null, scale, frozen);
    }
    examples += to - from;
    adamStep(net, adam, learningRate(hyper, t, totalBatches), frozen);
  }
  return { lossSum, examples };
}

/** Validation metrics at the end of `epoch`; updates best epoch, patience and stop in `p`. */
function endEpoch(ens: Ensemble, prepared: Prepared, hyper: Hyper, plan: Plan, p: Progress, epoch: number): { metrics: EpochMetrics; improved: boolean } {
  const m = validMetrics(ens, prepared);
  const metrics = { epoch, train_loss: p.epoch_loss / Math.max(1, p.epoch_examples), valid_loss: m.loss, valid_accuracy: m.accuracy };
  p.epoch_loss = 0;
  p.epoch_examples = 0;
  const acc = m.accuracy ?? 0;
  const loss = m.loss ?? 0;
  const minDelta = hyper.early_stopping?.min_delta ?? 0;
  // The top validation accuracy so far (ties: lower loss) drives patience.
  const top = acc > p.top_accuracy + minDelta || (acc >= p.top_accuracy && loss < p.top_loss);
  if (top) {
    p.top_accuracy = acc;
    p.top_loss = loss;
    p.since_best = 0;
  } else p.since_best++;
  // The chosen epoch is the latest within `selection_tolerance` standard errors of the top
  // (a small validation split cannot tell such epochs apart; later ones trained more).
  // Without a validation split the latest epoch is chosen.
  const n = prepared.valid.length;
  const se = n > 0 ? Math.sqrt(Math.max(p.top_accuracy * (1 - p.top_accuracy), 1 / n) / n) : 0;
  const improved = m.accuracy === null || top || (hyper.selection_tolerance > 0 && acc >= p.top_accuracy - hyper.selection_tolerance * se);
  if (improved) {
    p.best_epoch = epoch;
    p.best_accuracy = acc;
    p.best_loss = loss;
  }
  if (epoch >= plan.epochs || (hyper.early_stopping && p.since_best >= hyper.early_stopping.patience)) p.stopped = true;
  return { metrics, improved };
}

/** Most embedding rows one batch can touch: batch size × the longest row, at most the table. */
function maxTouchedRows(prepared: Prepared, hyper: Hyper): number {
  const { offsets } = prepared.x;
  let longest = 0;
  for (const r of prepared.train) longest = Math.max(longest, offsets[r + 1] - offsets[r]);
  return Math.max(1, Math.min(prepared.vocab.length, hyper.batch_size * longest));
}

/** An agent model of `params` with the data's classes and IDF. */
export function toModel(params: Tensors, prepared: Prepared, hyper: Hyper, temperature = 1): AgentModel {
  return { arch: archOf(hyper, prepared), features: hyper.features, classes: prepared.classes, vocab: prepared.vocab, idf: prepared.idf, params, temperature };
}

/**
 * The agent model of `params`, with a temperature fitted on the validation
 * split by the weights `calibration` (the chosen epoch's; after a refit,
 * which also trained on those rows, the validation phase's), and those
 * weights' recall of each class there (NaN for a class with no validation row).
 */
export function finalizeModel(params: Tensors, prepared: Prepared, hyper: Hyper, calibration: Tensors = params): { model: AgentModel; recall: Float64Array } {
  const arch = archOf(hyper, prepared);
  const C = arch.classes;
  const recall = new Float64Array(C).fill(NaN);
  let temperature = 1;
  if (prepared.valid.length > 0) {
    const { logits } = evaluate(new Ensemble(arch, calibration), prepared, prepared.valid, true);
    const labels = Int32Array.from(prepared.valid, (r) => prepared.labels[r]);
    temperature = fitTemperature(logits!, C, labels);
    const hit = new Float64Array(C);
    const total = new Float64Array(C);
    labels.forEach((y, k) => {
      let best = 0;
      for (let c = 1; c < C; c++) if (logits![k * C + c] > logits![k * C + best]) best = c;
      total[y]++;
      if (best === y) hit[y]++;
    });
    for (let c = 0; c < C; c++) if (total[c] > 0) recall[c] = hit[c] / total[c];
  }
  return { model: toModel(params, prepared, hyper, temperature), recall };
}

/** A copy of the parameters (the best epoch's candidate weights). */
export function cloneTensors(t: Tensors): Tensors {
  return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, v.slice()]));
}
