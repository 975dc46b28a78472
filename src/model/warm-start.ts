/**
 * Updating an existing model instead of training a new one (online learning
 * from corrections): the data of the update and the weights it starts from.
 *
 * - Classes: the model's, in its order, then any new ones (a correction whose
 *   answer the model never gave adds a class).
 * - Vocabulary: the model's rows, plus the most frequent new features of the
 *   update's training rows, within the same row budget. Old rows keep their
 *   IDF (their features mean what they meant); new rows get IDF from the
 *   update's training rows.
 * - Weights (every ensemble member): embedding rows and dense layers copied,
 *   new embedding rows seeded small as at initialization; each new class's
 *   output columns imprinted (Qi et al., 2018): the mean of the old network's
 *   last hidden layer (and embedding bag, for the skip path) over the class's
 *   examples, scaled to the size of the existing classes' columns — a new class
 *   starts near right, so the shared layers need not move far to learn it.
 * - Split: validation comes from the new examples only; the replayed old
 *   examples (which keep the old classes from being forgotten) all train.
 */
import { countRowsWork, featurize, inverseDocumentFrequency, toVocabularyRows, weightRows, type SparseRows } from "./features.ts";
import { MAX_EMBEDDING_FLOATS, type Example, type Hyper } from "./hyper.ts";
import type { AgentModel } from "./model.ts";
import { memberTensors, joinMembers, memberSeed } from "./ensemble.ts";
import { Network, tensorShapes, type Arch, type Tensors } from "./network.ts";
import { stratifiedSplit, type Prepared } from "./prepare.ts";
import { Rng } from "./rng.ts";
import { forwardCost, type Work } from "./work.ts";
import { Ensemble } from "./ensemble.ts";
import { predict } from "./model.ts";

/** The update's classes: the model's, in its order, then new ones in order of appearance. */
export function updateClasses(previous: readonly string[], examples: readonly Example[]): string[] {
  const classes = [...previous];
  const seen = new Set(classes);
  for (const e of examples) {
    if (seen.has(e.expected_output)) continue;
    seen.add(e.expected_output);
    classes.push(e.expected_output);
  }
  return classes;
}

/** Sorted union of `old` and the `maxNew` most frequent buckets of `rows` (in at least minDf of them) that `old` lacks. */
export function extendVocabulary(counts: SparseRows, rows: ArrayLike<number>, old: Int32Array, maxNew: number, minDf: number): Int32Array {
  const known = new Set(old);
  const df = new Map<number, number>();
  for (let k = 0; k < rows.length; k++) {
    const r = rows[k];
    for (let j = counts.offsets[r]; j < counts.offsets[r + 1]; j++) {
      const b = counts.idx[j];
      if (!known.has(b)) df.set(b, (df.get(b) ?? 0) + 1);
    }
  }
  const fresh = [...df.entries()]
    .filter(([, n]) => n >= Math.max(1, minDf))
    .sort((a, b) => b[1] - a[1] || a[0] - b[0])
    .slice(0, Math.max(0, maxNew))
    .map(([b]) => b);
  return Int32Array.from([...old, ...fresh]).sort();
}

/** Data and starting weights of an update of `previous` with `added` (new labeled examples), replaying `replay`. */
/**
 * `distill` (0–1): how much each training row of an old class learns toward
 * the previous model's own answer on it (its calibrated probabilities) rather
 * than toward its label — Learning without Forgetting. 0: labels only.
 */
/** `growVocabulary` false keeps the previous vocabulary exactly (a frozen embedding table). */
export function* prepareUpdateWork(previous: AgentModel, replay: readonly Example[], added: readonly Example[], hyper: Hyper, distill = 0, growVocabulary = true): Work<Prepared> {
  const classes = updateClasses(previous.classes, [...replay, ...added]);
  const index = new Map(classes.map((c, i) => [c, i]));
  const members = previous.arch.members;
  const inputs = [...replay.map((e) => e.input), ...added.map((e) => e.input)];
  const addedLabels = Int32Array.from(added, (e) => index.get(e.expected_output)!);
  let labels = Int32Array.from([...replay.map((e) => index.get(e.expected_output)!), ...addedLabels]);
  const split = stratifiedSplit(addedLabels, classes.length, hyper.seed, hyper.validation_split);
  const n0 = replay.length;
  let train = Int32Array.from([...replay.keys(), ...Array.from(split.train, (i) => n0 + i)]);
  const valid = Int32Array.from(split.valid, (i) => n0 + i);
  if (hyper.label_examples) {
    const n = inputs.length;
    inputs.push(...classes);
    labels = Int32Array.from([...labels, ...classes.keys()]);
    train = Int32Array.from([...train, ...classes.map((_, c) => n + c)]);
  }
  const f = previous.features;
  const hashed = yield* countRowsWork(inputs, f);
  const maxRows = Math.max(previous.vocab.length, Math.min(f.max_rows, Math.floor(MAX_EMBEDDING_FLOATS / (members * previous.arch.dim))));
  const vocab = extendVocabulary(hashed, train, previous.vocab, growVocabulary ? maxRows - previous.vocab.length : 0, f.min_df);
  yield hashed.idx.length * 16;
  const counts = toVocabularyRows(hashed, vocab);
  const fresh = inverseDocumentFrequency(counts, train, vocab.length);
  // Old rows keep their IDF: row i of the old vocabulary is row rowOf[i] of the new one.
  const rowOf = Int32Array.from(previous.vocab, (b) => binarySearch(vocab, b));
  const idf = fresh.slice();
  rowOf.forEach((row, i) => (idf[row] = previous.idf[i]));
  const arch: Arch = { ...previous.arch, rows: vocab.length, classes: classes.length };
  // Each new class's texts, featurized as the old model sees them (its vocabulary and IDF).
  const textsOf = new Map<number, string[]>();
  for (const [i, text] of inputs.entries()) {
    const c = labels[i];
    if (c >= previous.classes.length && (train.includes(i) || i >= inputs.length - classes.length)) textsOf.set(c, [...(textsOf.get(c) ?? []), text]);
  }
  const start = joinMembers(
    Array.from({ length: members }, (_, k) => {
      const old = memberTensors(previous.params, k);
      const widened = widen(old, previous.arch, arch, rowOf, new Rng(memberSeed(hyper.seed, k), 0x5a7), hyper.embedding_init);
      imprint(widened, new Network({ ...previous.arch, members: 1 }, old), previous, arch, textsOf);
      return widened;
    }),
  );
  const all = Int32Array.from([...train, ...valid]).sort();
  const prepared: Prepared = { classes, labels, train, valid, all, members, vocab, idf, x: weightRows(counts, idf), start };
  if (distill > 0) {
    const C = classes.length;
    const targets = new Float32Array(inputs.length * C);
    const has = new Uint8Array(inputs.length);
    const ens = new Ensemble(previous.arch, previous.params);
    for (const r of train) {
      if (labels[r] >= previous.classes.length) continue;
      targets.set(predict(previous, inputs[r], ens).probs, r * C);
      has[r] = 1;
      yield previous.arch.members * forwardCost(previous.arch, 64);
    }
    prepared.soft = { targets, has, weight: distill };
  }
  return prepared;
}

/** Sets each new class's output columns to its examples' mean representation under `net` (the old member), scaled like the old columns. */
function imprint(params: Tensors, net: Network, previous: AgentModel, to: Arch, textsOf: Map<number, string[]>): void {
  const { dim: D, hidden: H } = to;
  const C = to.classes;
  const oldC = previous.arch.classes;
  const W = params["output.weight"];
  const S = params["output.skip"];
  const bias = params["output.bias"];
  const columnNorm = (t: Float32Array, rows: number, c: number) => {
    let s = 0;
    for (let r = 0; r < rows; r++) s += t[r * C + c] ** 2;
    return Math.sqrt(s);
  };
  let wNorm = 0;
  let sNorm = 0;
  let b = 0;
  for (let c = 0; c < oldC; c++) {
    wNorm += columnNorm(W, H, c) / oldC;
    sNorm += columnNorm(S, D, c) / oldC;
    b += bias[c] / oldC;
  }
  for (const [c, texts] of textsOf) {
    const h = new Float64Array(H);
    const e = new Float64Array(D);
    for (const text of texts) {
      net.forward(featurize(text, previous.features, previous.vocab, previous.idf), 0, null, 0);
      const rep = net.representation;
      for (let i = 0; i < H; i++) h[i] += rep.hidden[i];
      for (let i = 0; i < D; i++) e[i] += rep.embedding[i];
    }
    const hn = Math.sqrt(h.reduce((s, x) => s + x * x, 0)) || 1;
    const en = Math.sqrt(e.reduce((s, x) => s + x * x, 0)) || 1;
    for (let i = 0; i < H; i++) W[i * C + c] = (wNorm * h[i]) / hn;
    for (let i = 0; i < D; i++) S[i * C + c] = (sNorm * e[i]) / en;
    bias[c] = b;
  }
}

/** `params` of `from` laid out for `to`: old embedding rows at their new rows, new rows seeded, output widened with zeros. */
function widen(params: Tensors, from: Arch, to: Arch, rowOf: Int32Array, rng: Rng, embeddingInit: number): Tensors {
  const out: Tensors = {};
  const D = to.dim;
  for (const [name, [rows, cols]] of Object.entries(tensorShapes(to))) {
    const t = new Float32Array(rows * cols);
    const old = params[name];
    if (name === "embedding.weight") {
      const limit = embeddingInit / Math.sqrt(D);
      for (let i = 0; i < t.length; i++) t[i] = (rng.next() * 2 - 1) * limit;
      rowOf.forEach((row, i) => t.set(old.subarray(i * D, (i + 1) * D), row * D));
    } else if (name === "output.weight" || name === "output.bias" || name === "output.skip") {
      // [inputs, classes]: copy each input's row of old classes; new classes' columns stay 0.
      const oldCols = from.classes;
      for (let r = 0; r < rows; r++) t.set(old.subarray(r * oldCols, (r + 1) * oldCols), r * cols);
    } else t.set(old);
    out[name] = t;
  }
  return out;
}

function binarySearch(sorted: Int32Array, value: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] === value) return mid;
    if (sorted[mid] < value) lo = mid + 1;
    else hi = mid - 1;
  }
  throw new Error(`bucket ${value} is not in the vocabulary`);
}
