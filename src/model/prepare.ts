/**
 * Data preparation, free of Worker APIs: classes, the seeded stratified
 * split, the ensemble's size, the learned vocabulary and TF-IDF features.
 */
import { buildVocabulary, countRowsWork, inverseDocumentFrequency, toVocabularyRows, weightRows, type SparseRows } from "./features.ts";
import { finish, type Work } from "./work.ts";
import type { Arch } from "./network.ts";
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
  return JSON.stringify([hyper.seed, hyper.validation_split, hyper.features, hyper.label_examples, hyper.ensemble, hyper.dim]);
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
  const hashed = yield* countRowsWork(inputs, f);
  const vocab = buildVocabulary(hashed, train, f.buckets, maxRows, f.min_df);
  yield hashed.idx.length * 16;
  const counts = toVocabularyRows(hashed, vocab);
  yield hashed.idx.length * 16;
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

