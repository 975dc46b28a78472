/**
 * Data preparation, free of Worker APIs: classes, the seeded stratified
 * split, the ensemble's size, the learned vocabulary and TF-IDF features.
 */
import { countRowsWork, documentFrequencies, idfFromDf, toVocabularyRows, vocabularyFromDf, weightRows, type SparseRows } from "./features.ts";
import { finish, type Work } from "./work.ts";
import { extendWithBase } from "./base-init.ts";
import { classPrototypes } from "./prototypes.ts";
import type { Arch, Tensors } from "./network.ts";
import { Rng } from "./rng.ts";
import { MAX_EMBEDDING_FLOATS, type Example, type Hyper } from "./hyper.ts";

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
  /**
   * Logged executions among the rows (adaptation runs): where `propensity` is
   * above 0 the row's label is the logged action, learned from off-policy
   * (trainer.ts); elsewhere the row is a labeled example.
   */
  logged?: LoggedRows;
  /** Class prototypes of every row (train and validation), when the config asks for the prototype head. */
  prototypes?: Float32Array;
  /** Weights to start from instead of seeded ones (every member, in the ensemble's naming): an update of an existing model. */
  start?: Tensors;
  /**
   * Soft targets (distillation, as in Learning without Forgetting): row r's
   * target is mixed with targets[r·classes …] by `weight` where `has[r]` is 1.
   */
  soft?: { targets: Float32Array; has: Uint8Array; weight: number };
}

/** Bandit feedback on some rows: the propensity of the logged action, its reward in [0, 1], and the row's importance weight. */
export interface LoggedRows {
  propensity: Float32Array;
  reward: Float32Array;
  /** min(clip, 1/propensity), divided by its mean over the logged rows (self-normalized). */
  weight: Float32Array;
  /** How strongly an unrewarded action is pushed down, relative to how a rewarded one is pulled up. */
  negative: number;
}

/** Settings of off-policy learning from logged rows. */
export interface OffPolicySettings {
  /** Largest importance weight 1/propensity a row may carry before normalization. */
  clip: number;
  negative: number;
}

export function archOf(hyper: Hyper, prepared: Pick<Prepared, "vocab" | "classes" | "members">): Arch {
  return { rows: prepared.vocab.length, dim: hyper.dim, hidden: hyper.hidden, classes: prepared.classes.length, members: prepared.members };
}


/** Networks in the ensemble for `nTrain` training rows. */
export function membersFor(hyper: Hyper, nTrain: number): number {
  if (hyper.ensemble !== "auto") return hyper.ensemble;
  return nTrain <= 2000 ? 3 : nTrain <= 4000 ? 2 : 1;
}

/** The config fields `prepare` reads: equal keys (for one dataset), equal prepared data. */
export function prepareKey(hyper: Hyper): string {
  // The vocabulary's size depends on the ensemble and dim (they share the embedding budget).
  return JSON.stringify([hyper.seed, hyper.validation_split, hyper.features, hyper.label_examples, hyper.ensemble, hyper.dim, hyper.base_model, hyper.prototype_weight > 0]);
}

/**
 * Classes (sorted distinct outputs), a seeded stratified split, the
 * vocabulary and TF-IDF features. With `label_examples`, each class's own
 * output text joins the training split as one more input of that class
 * (rows after the examples'; never held out).
 */
export function prepare(examples: readonly Example[], hyper: Hyper): Prepared {
  return finish(prepareWork(examples, hyper));
}

/** `prepare` as work reported while hashing and between its stages. */
export function* prepareWork(examples: readonly Example[], hyper: Hyper): Work<Prepared> {
  const { classes, labels } = labelExamples(examples);
  // Generated examples train but never validate: a paraphrase of a training example would flatter the epoch it picks.
  const split = stratifiedSplit(labels, classes.length, hyper.seed, hyper.validation_split, (i) => examples[i].synthetic === true);
  return yield* featurizeRows(
    examples.map((e) => e.input),
    labels,
    classes,
    split,
    hyper,
  );
}

/** One logged execution to learn from off-policy: its input, the class it answered, with what probability, and the reward. */
export interface LoggedExample {
  input: string;
  action: number;
  propensity: number;
  reward: number;
}

/**
 * Data of an adaptation run: the labeled `anchor` (split as `prepare` splits
 * examples; it keeps the agent from forgetting) and the `logged` executions
 * (all trained on, off-policy), over the agent's `classes` (its actions).
 */
export function* prepareAdaptationWork(
  anchor: readonly Example[],
  logged: readonly LoggedExample[],
  classes: readonly string[],
  hyper: Hyper,
  offPolicy: OffPolicySettings,
): Work<Prepared> {
  const index = new Map(classes.map((c, i) => [c, i]));
  const anchorLabels = Int32Array.from(anchor, (e) => {
    const c = index.get(e.expected_output);
    if (c === undefined) throw new Error(`anchor example with an unknown class: ${e.expected_output.slice(0, 60)}`);
    return c;
  });
  const split = stratifiedSplit(anchorLabels, classes.length, hyper.seed, hyper.validation_split);
  const n = anchor.length;
  const labels = Int32Array.from([...anchorLabels, ...logged.map((l) => l.action)]);
  const train = Int32Array.from([...split.train, ...logged.map((_, i) => n + i)]);
  const prepared = yield* featurizeRows([...anchor.map((e) => e.input), ...logged.map((l) => l.input)], labels, [...classes], { train, valid: split.valid }, hyper);
  // Class texts (label_examples) come after every other row.
  const rows = prepared.labels.length;
  const propensity = new Float32Array(rows);
  const reward = new Float32Array(rows);
  const weight = new Float32Array(rows);
  let sum = 0;
  logged.forEach((l, i) => {
    propensity[n + i] = l.propensity;
    reward[n + i] = l.reward;
    weight[n + i] = Math.min(offPolicy.clip, 1 / l.propensity);
    sum += weight[n + i];
  });
  const meanWeight = sum / Math.max(1, logged.length);
  for (let i = 0; i < logged.length; i++) weight[n + i] /= meanWeight;
  return { ...prepared, logged: { propensity, reward, weight, negative: offPolicy.negative } };
}

/**
 * Featurizes `inputs` (labelled `labels` over `classes`) with the given split.
 * With `label_examples`, each class's own text joins the training split as
 * one more input of that class (rows after the others'; never held out).
 */
export function* featurizeRows(inputs: string[], labels: Int32Array, classes: string[], split: { train: Int32Array; valid: Int32Array }, hyper: Hyper): Work<Prepared> {
  let train = split.train;
  if (hyper.label_examples) {
    const n = inputs.length;
    inputs = [...inputs, ...classes];
    labels = Int32Array.from([...labels, ...classes.keys()]);
    train = Int32Array.from([...split.train, ...classes.map((_, c) => n + c)]);
  }
  const members = membersFor(hyper, train.length);
  const hashed = yield* countRowsWork(inputs, hyper.features);
  const { vocab, idf } = vocabularyOf(documentFrequencies(hashed, train, hyper.features.buckets), train.length, hyper, members);
  yield hashed.idx.length * 16;
  const counts = toVocabularyRows(hashed, vocab);
  yield hashed.idx.length * 16;
  const prepared = preparedOf(counts, labels, { classes, members, vocab, idf }, { train, valid: split.valid });
  if (hyper.prototype_weight > 0) {
    prepared.prototypes = classPrototypes(inputs, labels, prepared.all, classes.length);
    yield inputs.length * 2000;
  }
  return prepared;
}

/** Embedding rows the vocabulary may have: config.features.max_rows, within the embedding budget the members share. */
export function vocabularyCap(hyper: Hyper, members: number): number {
  return Math.max(1, Math.min(hyper.features.max_rows, Math.floor(MAX_EMBEDDING_FLOATS / (members * hyper.dim))));
}

/**
 * The vocabulary and IDF learned from `nTexts` training texts whose bucket
 * document frequencies are `df` (the single chain counts them from its hashed
 * rows, a distributed run's layout one text at a time): the most frequent
 * buckets up to the cap, then, with base_model glove-en, the base's frequent
 * words.
 */
export function vocabularyOf(df: Int32Array, nTexts: number, hyper: Hyper, members: number): { vocab: Int32Array; idf: Float32Array } {
  const f = hyper.features;
  const cap = vocabularyCap(hyper, members);
  const learned = vocabularyFromDf(df, cap, f.min_df);
  const vocab = hyper.base_model === "glove-en" ? extendWithBase(learned, cap, f.buckets) : learned;
  return { vocab, idf: idfFromDf(df, vocab, nTexts) };
}

/** Prepared data of rows counted over a vocabulary (`counts`: raw term counts per vocabulary row), weighted with its IDF. */
export function preparedOf(counts: SparseRows, labels: Int32Array, shared: Pick<Prepared, "classes" | "members" | "vocab" | "idf">, split: { train: Int32Array; valid: Int32Array }): Prepared {
  const all = Int32Array.from([...split.train, ...split.valid]).sort();
  const { classes, members, vocab, idf } = shared;
  return { classes, labels, train: split.train, valid: split.valid, all, members, vocab, idf, x: weightRows(counts, idf) };
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
export function stratifiedSplit(labels: Int32Array, classes: number, seed: number, split: number, trainOnly?: (i: number) => boolean): { train: Int32Array; valid: Int32Array } {
  const byClass: number[][] = Array.from({ length: classes }, () => []);
  const fixed: number[] = [];
  labels.forEach((y, i) => (trainOnly?.(i) ? fixed : byClass[y]).push(i));
  const train: number[] = [...fixed];
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

