/**
 * Training engine, free of Worker APIs: the training state and one
 * resumable step of training, evaluation and the final model. The queue
 * consumer and the in-process benchmark both drive training through
 * `trainStepWork` (work.ts: the consumer pauses it between batches to serve
 * requests, the benchmark runs it through), so they run the same code.
 */
import { initFromBase } from "./base-init.ts";
import { initParams, type LayerName, type Network, type Tensors } from "./network.ts";
import { Ensemble, joinMembers, memberSeed } from "./ensemble.ts";
import { adamStep, initAdam, type AdamConfig, type AdamState } from "./optimizer.ts";
import { permutation, Rng } from "./rng.ts";
import { fitTemperature } from "./calibration.ts";
import { encodeModel, type AgentModel } from "./model.ts";
import type { Hyper } from "./hyper.ts";
import { archOf, type Prepared } from "./prepare.ts";
import { stepEndingEpoch, stepPosition, type Phase, type Plan } from "./plan.ts";
import { finish, forwardCost, type Work } from "./work.ts";

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
  /** A distributed run's server momentum: the velocity of each dense weight tensor across rounds (aggregate.ts); absent before the first merge. */
  server?: Tensors;
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

const ADAM: Pick<AdamConfig, "beta1" | "beta2" | "epsilon"> = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };

/** The state training starts from: seeded weights, or the prepared data's own (an update of an existing model); fresh optimizer state. */
export function initState(prepared: Prepared, hyper: Hyper): TrainState {
  const arch = archOf(hyper, prepared);
  const params = prepared.start
    ? cloneTensors(prepared.start)
    : joinMembers(
        Array.from({ length: arch.members }, (_, k) => {
          const member = initParams(arch, memberSeed(hyper.seed, k), hyper.embedding_init);
          if (hyper.base_model === "glove-en") initFromBase(member, arch, prepared.vocab, hyper.features.buckets, hyper.base_scale);
          return member;
        }),
      );
  const adam = Array.from({ length: arch.members }, () => initAdam(arch, hyper.embedding_optimizer));
  return {
    params,
    adam: { t: 0, m: joinMembers(adam.map((a) => a.m)), v: joinMembers(adam.map((a) => a.v)) },
    progress: { epoch_loss: 0, epoch_examples: 0, best_epoch: 0, best_accuracy: -1, best_loss: Infinity, top_accuracy: -1, top_loss: Infinity, since_best: 0, refit_from: 0, stopped: false },
  };
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

/** Rows evaluated between two reports of work done. */
const EVAL_CHUNK = 32;

/** Loss, accuracy and (optionally) the ensemble's mean logits on rows `rows`. */
export function* evaluateWork(ens: Ensemble, prepared: Prepared, rows: Int32Array, keepLogits = false): Work<{ loss: number; accuracy: number; logits: Float32Array | null }> {
  const C = ens.arch.classes;
  const logits = keepLogits ? new Float32Array(rows.length * C) : null;
  const { offsets } = prepared.x;
  let loss = 0;
  let correct = 0;
  let features = 0;
  let chunk = 0;
  for (let k = 0; k < rows.length; k++) {
    const r = rows[k];
    ens.forward(prepared.x, r);
    const y = prepared.labels[r];
    loss -= Math.log(Math.max(ens.probs[y], 1e-12));
    let best = 0;
    for (let c = 1; c < C; c++) if (ens.probs[c] > ens.probs[best]) best = c;
    if (best === y) correct++;
    if (logits) logits.set(ens.logits, k * C);
    features += offsets[r + 1] - offsets[r];
    if (++chunk === EVAL_CHUNK || k === rows.length - 1) {
      yield ens.nets.length * chunk * forwardCost(ens.arch, features / chunk);
      features = 0;
      chunk = 0;
    }
  }
  const n = Math.max(1, rows.length);
  return { loss: loss / n, accuracy: correct / n, logits };
}

export function evaluate(ens: Ensemble, prepared: Prepared, rows: Int32Array, keepLogits = false): { loss: number; accuracy: number; logits: Float32Array | null } {
  return finish(evaluateWork(ens, prepared, rows, keepLogits));
}

function* validMetrics(ens: Ensemble, prepared: Prepared): Work<{ loss: number | null; accuracy: number | null }> {
  if (prepared.valid.length === 0) return { loss: null, accuracy: null };
  const { loss, accuracy } = yield* evaluateWork(ens, prepared, prepared.valid);
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
  return finish(trainStepWork(state, prepared, hyper, plan, seq));
}

/** `trainStep` as work that reports its progress after every batch and every few evaluated rows. */
export function* trainStepWork(state: TrainState, prepared: Prepared, hyper: Hyper, plan: Plan, seq: number): Work<StepReport> {
  const p = state.progress;
  const { refitting, phase, rows, local } = beginStep(state, prepared, hyper, plan, seq);
  const ens = trainingEnsemble(state, prepared, hyper);
  const frozen = new Set(hyper.freeze_layers);
  const { first, last: lastOfStep, part, endsEpoch } = stepPosition(phase, local);
  // The refit trains as many epochs as the chosen epoch of the validation phase had.
  const last = refitting ? Math.min(lastOfStep, p.best_epoch) : lastOfStep;
  const epochs: EpochMetrics[] = [];
  if (seq === 1) epochs.push(yield* untrainedMetrics(ens, prepared));
  const adam = adamConfig(hyper);
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
      const seed = memberSeed(hyper.seed, k);
      const pass: Pass = { order: permutation(phase.n_train, seed, 0x10000 + epoch), first: firstBatch, last: lastBatch, t0: (epoch - 1) * phase.batches_per_epoch, total: phase.epochs * phase.batches_per_epoch };
      const done = yield* trainBatches(net, prepared, rows, hyper, seed, pass, adam, frozen);
      lossSum += done.lossSum / ens.nets.length;
      p.epoch_loss += done.lossSum / ens.nets.length;
      if (k === 0) {
        examples += done.examples;
        p.epoch_examples += done.examples;
      }
    }
    if (!endsEpoch) break;
    const closed = yield* closeEpoch(ens, state, prepared, hyper, plan, seq, epoch, refitting);
    if (closed.metrics) epochs.push(closed.metrics);
    if (closed.improved) {
      improved = true;
      bestModel = closed.bestModel;
    }
    if (closed.end) break;
  }
  state.adam = ens.optimizer!; // its step count moved on
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

/** Which phase step `seq` belongs to (the refit once it has begun) and the step's number within it. */
function phaseOf(p: Progress, plan: Plan, seq: number): { refitting: boolean; phase: Phase; local: number } {
  const refitting = plan.refit !== null && p.refit_from > 0 && seq >= p.refit_from;
  return { refitting, phase: refitting ? plan.refit! : plan, local: refitting ? seq - p.refit_from + 1 : seq };
}

/** Which phase step `seq` belongs to, its rows and its number within the phase; the refit's first step starts over from seeded weights. */
function beginStep(state: TrainState, prepared: Prepared, hyper: Hyper, plan: Plan, seq: number): { refitting: boolean; phase: Phase; rows: Int32Array; local: number } {
  const { refitting, phase, local } = phaseOf(state.progress, plan, seq);
  const rows = refitting ? prepared.all : prepared.train;
  // A distributed run's steps hold a part of the data each (the shard checks its own).
  if (!plan.partitions && phase.n_train !== rows.length) throw new Error(`the plan is for ${phase.n_train} training rows, the data have ${rows.length}`);
  if (plan.members !== prepared.members) throw new Error(`the plan is for ${plan.members} ensemble members, the data for ${prepared.members}`);
  if (refitting && local === 1) {
    const fresh = initState(prepared, hyper);
    state.params = fresh.params;
    state.adam = fresh.adam;
  }
  return { refitting, phase, rows, local };
}

/** Networks that train the state: from here on their memories hold it (the state's tensors become views of them). */
function trainingEnsemble(state: TrainState, prepared: Prepared, hyper: Hyper): Ensemble {
  const ens = new Ensemble(archOf(hyper, prepared), state.params, { maxTouchedRows: maxTouchedRows(prepared, hyper), optimizer: state.adam });
  state.params = ens.params;
  state.adam = ens.optimizer!;
  return ens;
}

function adamConfig(hyper: Hyper): AdamConfig {
  return { ...ADAM, learning_rate: hyper.learning_rate, weight_decay: hyper.weight_decay, embedding: hyper.embedding_optimizer, embedding_lr_scale: hyper.embedding_lr_scale };
}

/** Held-out metrics of the untrained network (epoch 0, reported by the first step). */
function* untrainedMetrics(ens: Ensemble, prepared: Prepared): Work<EpochMetrics> {
  const m = yield* validMetrics(ens, prepared);
  return { epoch: 0, train_loss: null, valid_loss: m.loss, valid_accuracy: m.accuracy };
}

/**
 * The end of `epoch` (its batches trained): in the validation phase, its
 * metrics, the best epoch and early stopping (and, when training stops with a
 * refit to come, the refit's first step); in the refit, the stop after the
 * chosen number of epochs. `end`: no further epoch trains in this step.
 */
function* closeEpoch(
  ens: Ensemble,
  state: TrainState,
  prepared: Prepared,
  hyper: Hyper,
  plan: Plan,
  seq: number,
  epoch: number,
  refitting: boolean,
): Work<{ metrics: EpochMetrics | null; improved: boolean; bestModel: Uint8Array | null; end: boolean }> {
  const p = state.progress;
  if (refitting) {
    // No held-out rows are left to validate on.
    p.epoch_loss = 0;
    p.epoch_examples = 0;
    if (epoch >= p.best_epoch) p.stopped = true;
    return { metrics: null, improved: false, bestModel: null, end: p.stopped };
  }
  const m = yield* endEpoch(ens, prepared, hyper, plan, p, epoch);
  // The chosen epoch's weights: the state's own when the epoch ends the step, else a model of their own.
  const bestModel = m.improved && stepEndingEpoch(plan, epoch) !== seq ? encodeModel(toModel(state.params, prepared, hyper), "exact") : null;
  const end = p.stopped;
  if (p.stopped && plan.refit) {
    p.stopped = false;
    p.refit_from = seq + 1;
  }
  return { metrics: m.metrics, improved: m.improved, bestModel, end };
}

/** What one shard trained in one round. */
export interface ShardReport {
  /** Training loss summed over the shard's examples (mean over members). */
  loss_sum: number;
  /** Examples the shard trained on (each member trains on all of them). */
  examples: number;
}

/** `ShardReport` with the embedding rows each member's batches touched (ascending): the only rows the shard changed. */
export interface ShardTraining extends ShardReport {
  touched: Int32Array[];
}

/**
 * Distributed training (local SGD): shard `shard` trains its share of round
 * `seq` — batches [part·K, (part+1)·K) of its own partition's epoch
 * (`prepared` holds that partition only: partition.ts), shuffled with its own
 * seed — from the round's starting state, mutating it (weights and its own
 * copy of the optimizer state). The learning rate follows the shard's own
 * batch count through the run (every shard is at the same point of the
 * schedule in a round). The aggregator merges the shards' states
 * (aggregate.ts) and closes the round (`closeRoundWork`). Deterministic in
 * (state, prepared, hyper, seq, shard).
 */
export function* trainShardWork(state: TrainState, prepared: Prepared, hyper: Hyper, plan: Plan, seq: number, shard: number): Work<ShardTraining> {
  const shards = plan.shards ?? 1;
  if (shard < 0 || shard >= shards || !plan.partitions) throw new Error(`shard ${shard} is not one of the plan's ${shards}`);
  const rows = prepared.train;
  if (rows.length !== plan.partitions[shard]) throw new Error(`the plan gives shard ${shard} ${plan.partitions[shard]} training rows, its data have ${rows.length}`);
  const { phase, local } = beginStep(state, prepared, hyper, plan, seq);
  const ens = trainingEnsemble(state, prepared, hyper);
  const frozen = new Set(hyper.freeze_layers);
  const { first: epoch, part } = stepPosition(phase, local);
  const K = phase.batches_per_step;
  const perEpoch = phase.steps_per_epoch * K;
  let lossSum = 0;
  let examples = 0;
  const touched: Int32Array[] = [];
  for (const [k, net] of ens.nets.entries()) {
    const marks = new Uint8Array(ens.arch.rows);
    const seed = shardSeed(memberSeed(hyper.seed, k), shard);
    const pass: Pass = {
      order: permutation(rows.length, seed, 0x10000 + epoch),
      first: part * K,
      last: Math.min(Math.ceil(rows.length / hyper.batch_size), (part + 1) * K),
      t0: (epoch - 1) * perEpoch,
      total: phase.epochs * perEpoch,
    };
    const done = yield* trainBatches(net, prepared, rows, hyper, seed, pass, adamConfig(hyper), frozen, marks);
    lossSum += done.lossSum / ens.nets.length;
    if (k === 0) examples += done.examples;
    touched.push(rowsMarked(marks));
  }
  state.adam = ens.optimizer!;
  return { loss_sum: lossSum, examples, touched };
}

/** A shard's own seed of shuffles and dropout. */
function shardSeed(seed: number, shard: number): number {
  return (seed ^ Math.imul(shard + 1, 0x9e3779b1)) >>> 0;
}

/**
 * The round's starting state as the aggregator sees it: the refit's first
 * round starts over from seeded weights, as each of its shards did. With the
 * held-out metrics of the untrained network for the first round (epoch 0).
 */
export function* beginRoundWork(state: TrainState, prepared: Prepared, hyper: Hyper, plan: Plan, seq: number): Work<EpochMetrics | null> {
  beginStep(state, prepared, hyper, plan, seq);
  return seq === 1 ? yield* untrainedMetrics(new Ensemble(archOf(hyper, prepared), state.params), prepared) : null;
}

/**
 * Closes round `seq` once its shards' states are merged into `state`: the
 * round's loss joins the epoch's, and a round that ends its epoch validates
 * it as a single-chain step would (`closeEpoch`). `untrained`: what
 * `beginRoundWork` reported.
 */
export function* closeRoundWork(state: TrainState, prepared: Prepared, hyper: Hyper, plan: Plan, seq: number, trained: ShardReport, untrained: EpochMetrics | null): Work<StepReport> {
  const p = state.progress;
  const { refitting, phase, local } = phaseOf(p, plan, seq);
  const { first: epoch, endsEpoch } = stepPosition(phase, local);
  p.epoch_loss += trained.loss_sum;
  p.epoch_examples += trained.examples;
  const epochs: EpochMetrics[] = untrained ? [untrained] : [];
  let improved = false;
  if (endsEpoch) {
    const closed = yield* closeEpoch(new Ensemble(archOf(hyper, prepared), state.params), state, prepared, hyper, plan, seq, epoch, refitting);
    if (closed.metrics) epochs.push(closed.metrics);
    improved = closed.improved;
  }
  return { seq, epoch, refit: refitting, examples: trained.examples, train_loss: trained.loss_sum / Math.max(1, trained.examples), epochs, improved, best_model: null, stop: p.stopped };
}

function rowsMarked(marks: Uint8Array): Int32Array {
  let n = 0;
  for (const m of marks) n += m;
  const out = new Int32Array(n);
  for (let r = 0, k = 0; r < marks.length; r++) if (marks[r]) out[k++] = r;
  return out;
}

/**
 * Batches [first, last) of one pass over `rows`: batch j is rows
 * order[j·bs …] (at most to the rows' end) and is step t0 + j of `total`
 * in the learning-rate schedule (and of dropout's seeds).
 */
interface Pass {
  order: Int32Array;
  first: number;
  last: number;
  t0: number;
  total: number;
}

/** The pass's batches: forward, backward and an optimizer step per batch (reporting each batch's work). */
function* trainBatches(
  net: Network,
  prepared: Prepared,
  rows: Int32Array,
  hyper: Hyper,
  seed: number,
  pass: Pass,
  adam: AdamConfig,
  frozen: ReadonlySet<LayerName>,
  touched?: Uint8Array,
): Work<{ lossSum: number; examples: number }> {
  const { order } = pass;
  const bs = hyper.batch_size;
  let lossSum = 0;
  let examples = 0;
  for (let b = pass.first; b < pass.last; b++) {
    const t = pass.t0 + b;
    const rng = hyper.dropout > 0 ? new Rng(seed, 0x200000 + t) : null;
    const from = b * bs;
    const to = Math.min(order.length, from + bs);
    net.zeroGrad();
    const scale = 1 / (to - from);
    const logged = prepared.logged;
    const soft = prepared.soft;
    // Logged rows learn toward (or away from) their action as is: no label smoothing.
    const offPolicy = { dropout: hyper.dropout, label_smoothing: 0 };
    for (let k = from; k < to; k++) {
      const r = rows[order[k]];
      net.forward(prepared.x, r, rng, hyper.dropout);
      if (logged && logged.propensity[r] > 0) {
        // Off-policy, counterfactual risk minimization with the log-policy surrogate of the IPS objective:
        // w·[ −r·log π(a|x) − negative·(1 − r)·log(1 − π(a|x)) ], w the clipped, self-normalized 1/propensity.
        // Both terms' gradients are that of cross-entropy toward the logged action a, scaled:
        // by w·r (pull a up), and by −w·negative·(1 − r)·π(a)/(1 − π(a)) (push a down, bounded).
        const a = prepared.labels[r];
        const rwd = logged.reward[r];
        const pa = Math.min(net.probs[a], 0.999);
        const coef = logged.weight[r] * (rwd - logged.negative * (1 - rwd) * (pa / (1 - pa)));
        lossSum += Math.abs(coef) * net.backward(prepared.x, r, a, offPolicy, rng !== null, scale * coef, frozen);
      } else if (soft && soft.has[r]) {
        const C = net.arch.classes;
        lossSum += net.backward(prepared.x, r, prepared.labels[r], hyper, rng !== null, scale, frozen, { target: soft.targets.subarray(r * C, (r + 1) * C), weight: soft.weight });
      } else lossSum += net.backward(prepared.x, r, prepared.labels[r], hyper, rng !== null, scale, frozen);
    }
    examples += to - from;
    adamStep(net, adam, learningRate(hyper, t, pass.total), frozen);
    if (touched) for (let s = 0; s < net.touchedCount; s++) touched[net.touched[s]] = 1;
    // Forward and backward: about three forward passes of work per example.
    let features = 0;
    for (let k = from; k < to; k++) {
      const r = rows[order[k]];
      features += prepared.x.offsets[r + 1] - prepared.x.offsets[r];
    }
    yield 3 * forwardCost(net.arch, features / (to - from)) * (to - from);
  }
  return { lossSum, examples };
}

/** Validation metrics at the end of `epoch`; updates best epoch, patience and stop in `p`. */
function* endEpoch(ens: Ensemble, prepared: Prepared, hyper: Hyper, plan: Plan, p: Progress, epoch: number): Work<{ metrics: EpochMetrics; improved: boolean }> {
  const m = yield* validMetrics(ens, prepared);
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
  // Without a validation split there is nothing to judge improvement by: every epoch asked for is trained.
  const patienceOut = hyper.early_stopping !== null && m.accuracy !== null && p.since_best >= hyper.early_stopping.patience;
  if (epoch >= plan.epochs || patienceOut) p.stopped = true;
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
  const model: AgentModel = { arch: archOf(hyper, prepared), features: hyper.features, classes: prepared.classes, vocab: prepared.vocab, idf: prepared.idf, params, temperature };
  if (prepared.prototypes) {
    model.prototypes = { vectors: prepared.prototypes, dim: prepared.prototypes.length / prepared.classes.length, weight: hyper.prototype_weight, temperature: hyper.prototype_temperature };
  }
  return model;
}

/**
 * The run's model: the refit's weights when there was a refit, else the
 * chosen epoch's. The chosen epoch's weights fit the temperature on the
 * validation split (the refit also trained on those rows) and give each
 * class's recall there (NaN for a class with no validation row).
 */
export function finalizeModel(chosen: Tensors, refitted: Tensors | null, prepared: Prepared, hyper: Hyper): { model: AgentModel; recall: Float64Array } {
  return finish(finalizeModelWork(chosen, refitted, prepared, hyper));
}

export function* finalizeModelWork(chosen: Tensors, refitted: Tensors | null, prepared: Prepared, hyper: Hyper): Work<{ model: AgentModel; recall: Float64Array }> {
  const arch = archOf(hyper, prepared);
  const C = arch.classes;
  const recall = new Float64Array(C).fill(NaN);
  let temperature = 1;
  if (prepared.valid.length > 0) {
    const { logits } = yield* evaluateWork(new Ensemble(arch, chosen), prepared, prepared.valid, true);
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
  return { model: toModel(refitted ?? chosen, prepared, hyper, temperature), recall };
}

/** A copy of the parameters (the best epoch's candidate weights). */
export function cloneTensors(t: Tensors): Tensors {
  return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, v.slice()]));
}

/** Rows `trainingFit` measures at most (a seeded sample beyond), so the final step's cost stays bounded. */
export const FIT_SAMPLE_ROWS = 2000;

/**
 * Accuracy and loss of the model's weights on the rows they trained on (every
 * row after a refit, else the training split), or a seeded sample of them.
 */
export function* trainingFitWork(model: AgentModel, prepared: Prepared, hyper: Hyper, refitted: boolean): Work<{ split: "train" | "train+validation"; accuracy: number; loss: number; examples: number }> {
  const rows = refitted ? prepared.all : prepared.train;
  const sample = rows.length <= FIT_SAMPLE_ROWS ? rows : Int32Array.from(permutation(rows.length, hyper.seed, 0x7e57).subarray(0, FIT_SAMPLE_ROWS), (k) => rows[k]).sort();
  const { loss, accuracy } = yield* evaluateWork(new Ensemble(model.arch, model.params), prepared, sample);
  return { split: refitted ? "train+validation" : "train", accuracy, loss, examples: sample.length };
}

export function trainingFit(model: AgentModel, prepared: Prepared, hyper: Hyper, refitted: boolean): { split: "train" | "train+validation"; accuracy: number; loss: number; examples: number } {
  return finish(trainingFitWork(model, prepared, hyper, refitted));
}
