/**
 * The memory a run's queue steps need at their peak, estimated before the run
 * is accepted, from the same code the steps allocate with:
 *
 *   step peak = max(preparing the data, a training step, the final step,
 *                   a distributed round's aggregator)
 *
 *   preparing = examples + prepared data + the featurizer's scratch
 *               (occurrence lists 4·occ, hashed and mapped rows 2 × 8·nnz,
 *               weights 4·nnz, document frequencies 4·buckets, vocabulary
 *               candidates 16·distinct; inside one synchronous call, so the
 *               step bench cannot sample it: an analytical bound)
 *   training  = examples + prepared data
 *             + networks:   every member's WebAssembly memory, measured by the
 *                           network's own layout (network.ts `networkBytes`):
 *                           weights, gradients and both optimizer moments of
 *                           every dense tensor (4 floats per parameter), the
 *                           embedding table with its optimizer state, gradient
 *                           slots for the rows one batch touches, activations
 *             + state:      the training state as a checkpoint (weights and
 *                           optimizer moments of every member, float32): the
 *                           one read (until the networks have copied it in),
 *                           the best epoch's weights (when that epoch ends
 *                           mid-step, dropped before the state is written) or
 *                           the one written — one at a time
 *   final     = examples + prepared data + the chosen epoch's state (and the
 *             refit's, after a refit) + the larger of: the inference networks
 *             that evaluate the model, or the encoded version with the learned
 *             memories on their way to D1 (rows, vectors and their JSON:
 *             MEMORY_ROW_BYTES + 4 bytes a character of an average example each)
 *   aggregate = examples + prepared data + the round's base state + the
 *               largest of: one shard's result being read (sealed bytes and
 *               plaintext, each at most a state) with the dense tensors' sums,
 *               the networks that validate, the checkpoint written (a shard is
 *               a training step: its compact result is smaller than its state)
 *   examples  = 2 bytes a character + EXAMPLE_OVERHEAD_BYTES each
 *   prepared  = 8·nnz + 4·(rows + 1) + 12·rows + 8·vocabulary rows
 *
 * nnz (feature entries) is bounded by feature occurrences (`featureCount`);
 * the vocabulary is the distinct hashed features (counted exactly), at most
 * max_rows (which the members share).
 * bench/step-memory.ts prints this estimate beside the measured peak, and
 * test/node/footprint.test.ts checks that it bounds the measurement.
 */
import { featureCount, featureIds } from "./features.ts";
import type { Example, Hyper } from "./hyper.ts";
import { networkBytes, tensorShapes, type Arch } from "./network.ts";
import { adamShapes } from "./optimizer.ts";
import { labelExamples, membersFor, splitSizes, vocabularyCap } from "./prepare.ts";
import { partRows, type Layout, type Part } from "./partition.ts";

/** JS object, array slot and string headers of one parsed example. */
const EXAMPLE_OVERHEAD_BYTES = 160;
/** One learned memory on its way to D1 beside its text: its row, its 384-float vector and their JSON (the vector as hex). Measured: 6.2 KB with BANKING77's short texts; 7 KiB leaves a margin. */
const MEMORY_ROW_BYTES = 7_168;
/** A row's typed array of occurrences while a part is counted (object and backing store headers), and its label. */
const PART_ROW_BYTES = 256;
/** A checkpoint's JSON header (tensor table, metadata). */
const HEADER_BYTES = 65_536;

/** What the estimate needs to know of a dataset. */
export interface DataShape {
  /** Rows prepared: the examples, plus each class's text with label_examples. */
  rows: number;
  n_train: number;
  n_valid: number;
  classes: number;
  /** Characters of every input and output. */
  chars: number;
  /** Feature occurrences over all rows (bounds the feature entries, nnz). */
  occurrences: number;
  /** Distinct hashed features over all rows (bounds the vocabulary, which the training rows' features make). */
  distinct: number;
  /** Most feature occurrences of one row. */
  longest: number;
}

export function dataShape(examples: readonly Example[], hyper: Hyper): DataShape {
  const { classes, labels } = labelExamples(examples);
  const { n_train, n_valid } = splitSizes(labels, classes.length, hyper);
  const texts = examples.map((e) => e.input);
  if (hyper.label_examples) texts.push(...classes);
  const chars = examples.reduce((s, e) => s + e.input.length + e.expected_output.length, 0);
  return { ...textShape(texts, new Uint8Array(hyper.features.buckets), hyper), rows: texts.length, n_train, n_valid, classes: classes.length, chars };
}

/** Occurrences, the longest row and the distinct features of `texts` not yet `seen` (marked seen: parts can share one array). */
function textShape(texts: Iterable<string>, seen: Uint8Array, hyper: Hyper): Pick<DataShape, "occurrences" | "longest" | "distinct"> {
  let occurrences = 0;
  let longest = 0;
  let distinct = 0;
  for (const t of texts) {
    const n = featureCount(t, hyper.features);
    occurrences += n;
    longest = Math.max(longest, n);
    for (const id of featureIds(t, hyper.features)) {
      if (seen[id]) continue;
      seen[id] = 1;
      distinct++;
    }
  }
  return { occurrences, longest, distinct };
}

/**
 * The shapes of a distributed run's parts (model/partition.ts): the largest
 * shard's, the validation part's and the final part's; their `distinct` is
 * the whole run's (the vocabulary is shared), and each knows its size only.
 * `row(r)`: the run's input row r's text and characters (examples, then
 * class texts).
 */
export function partShapes(layout: Pick<Layout, "roles" | "classes" | "shards">, hyper: Hyper, row: (r: number) => { input: string; chars: number }): PartShapes {
  const seen = new Uint8Array(hyper.features.buckets);
  const shape = (part: Part): DataShape => {
    const { rows, train, valid } = partRows(layout, part, hyper.seed);
    const got = Array.from(rows, row);
    return {
      ...textShape(got.map((g) => g.input), seen, hyper),
      rows: rows.length,
      n_train: train.length,
      n_valid: valid.length,
      classes: layout.classes.length,
      chars: got.reduce((s, g) => s + g.chars, 0),
    };
  };
  const shards = Array.from({ length: layout.shards }, (_, shard) => shape({ kind: "shard", shard }));
  const valid = shape({ kind: "valid" });
  const final = shape({ kind: "final" });
  const distinct = [...shards, valid].reduce((s, p) => s + p.distinct, 0);
  const largest = shards.reduce((a, b) => (b.occurrences + b.chars > a.occurrences + a.chars ? b : a));
  const whole = (p: DataShape): DataShape => ({ ...p, distinct });
  return { shard: whole(largest), valid: whole(valid), final: whole(final), n_train: shards.reduce((s, p) => s + p.n_train, 0), n_valid: valid.n_valid };
}

export interface PartShapes {
  shard: DataShape;
  valid: DataShape;
  final: DataShape;
  /** The whole run's training and held-out rows. */
  n_train: number;
  n_valid: number;
}

export interface Footprint {
  /** The largest of the phases, in bytes. */
  peak_bytes: number;
  /** aggregate: a distributed round's aggregator (0 for a single chain). */
  phases: { prepare: number; training: number; final: number; aggregate: number };
  /** What the training phase holds, by part (bytes). */
  parts: { examples: number; prepared: number; networks: number; state: number; best_model: number };
  /** The levers behind the parts (bytes): dense layers, embedding tables, data. */
  levers: { dense: number; embedding: number; data: number };
  members: number;
  vocabulary_rows: number;
}

/**
 * `learnedMemories`: how many memories the final step writes (patterns and
 * demos). `partOf`: the shape is a part of a distributed run with this many
 * training rows in all (members follow the whole run; no refit; an
 * aggregator phase).
 */
export function stepFootprint(hyper: Hyper, shape: DataShape, learnedMemories: number, partOf?: { n_train: number }): Footprint {
  const members = membersFor(hyper, partOf?.n_train ?? shape.n_train);
  const vocabRows = Math.max(1, Math.min(vocabularyCap(hyper, members), shape.distinct));
  const arch: Arch = { rows: vocabRows, dim: hyper.dim, hidden: hyper.hidden, classes: shape.classes, members };
  const moments = adamShapes(arch, hyper.embedding_optimizer);
  const maxTouchedRows = Math.max(1, Math.min(vocabRows, hyper.batch_size * shape.longest));
  const trainingNet = networkBytes(arch, { maxTouchedRows, moments });
  const inferenceNet = networkBytes(arch);

  const shapes = tensorShapes(arch);
  let paramFloats = 0;
  let embeddingFloats = 0;
  let embeddingWeights = 0;
  for (const [name, [r, c]] of Object.entries(shapes)) {
    paramFloats += r * c;
    if (name.startsWith("embedding.")) {
      embeddingFloats += r * c + moments[name].m + moments[name].v;
      embeddingWeights += r * c;
    }
  }
  const momentFloats = Object.values(moments).reduce((s, m) => s + m.m + m.v, 0);
  // A distributed run's state also holds the server's velocity of the dense weights (aggregate.ts).
  const serverFloats = partOf ? paramFloats - embeddingWeights : 0;
  const stateBytes = members * 4 * (paramFloats + momentFloats + serverFloats) + HEADER_BYTES;
  const modelBytes = members * 4 * paramFloats + 8 * vocabRows + HEADER_BYTES;
  const versionBytes = members * (2 * vocabRows * hyper.dim + 4 * (paramFloats - vocabRows * hyper.dim)) + 8 * vocabRows + HEADER_BYTES;

  // What the aggregator sums apart from the state: every tensor but the embedding table and its moments.
  const denseSums = members * 4 * (paramFloats + momentFloats - embeddingFloats);
  const nnz = shape.occurrences;
  const examples = 2 * shape.chars + EXAMPLE_OVERHEAD_BYTES * shape.rows;
  const prepared = 8 * nnz + 4 * (shape.rows + 1) + 12 * shape.rows + 8 * vocabRows;
  const scratch = 4 * nnz + 16 * nnz + 4 * nnz + 4 * hyper.features.buckets + 16 * shape.distinct;
  const networks = members * trainingNet;
  const memories = learnedMemories * (MEMORY_ROW_BYTES + (4 * shape.chars) / Math.max(1, shape.rows));
  const refit = !partOf && (hyper.refit === "auto" ? shape.n_train <= 2000 && shape.n_valid > 0 : hyper.refit && shape.n_valid > 0);

  const phases = {
    // A part is featurized with the layout's vocabulary (partition.ts partPreparedWork): the rows' occurrence lists and
    // raw counts (4·occ + 8·nnz, a typed array per row), then the counts and their mapping to vocabulary rows (16·nnz).
    prepare: partOf ? examples + 16 * nnz + PART_ROW_BYTES * shape.rows : examples + prepared + scratch,
    training: examples + prepared + networks + Math.max(stateBytes, modelBytes),
    final: examples + prepared + (refit ? 2 : 1) * stateBytes + Math.max(members * inferenceNet, versionBytes + memories),
    // The round's base state (merged into in place) and then the largest of: one shard's result (at most a state) while
    // it is read (sealed bytes and their plaintext: two) with the dense tensors' sums (under a state), the networks
    // that validate the merged weights, or the checkpoint written.
    aggregate: partOf ? examples + prepared + stateBytes + Math.max(2 * stateBytes + denseSums, members * inferenceNet) : 0,
  };
  const embedding = members * 4 * (embeddingFloats + maxTouchedRows * hyper.dim);
  return {
    peak_bytes: Math.max(phases.prepare, phases.training, phases.final, phases.aggregate),
    phases,
    parts: { examples, prepared, networks, state: stateBytes, best_model: modelBytes },
    levers: { dense: Math.max(0, networks + stateBytes - 2 * embedding), embedding: 2 * embedding, data: examples + prepared },
    members,
    vocabulary_rows: vocabRows,
  };
}

/**
 * A distributed run's peak: each phase with the part its step holds (a
 * shard's training rows, the validation rows for the aggregator, the final
 * part), each part's reading (the bytes of the dataset it is read from,
 * sealed and plain: `datasetBytes`, the largest source's, beside the part's
 * examples) and featurizing, and the
 * coordinator's layout (both passes over that dataset, the bucket document
 * frequencies, the labels and roles).
 */
export function partitionedFootprint(hyper: Hyper, parts: PartShapes, datasetBytes: number, learnedMemories: number): Footprint {
  const whole = { n_train: parts.n_train };
  const shard = stepFootprint(hyper, parts.shard, learnedMemories, whole);
  const valid = stepFootprint(hyper, parts.valid, learnedMemories, whole);
  const final = stepFootprint(hyper, parts.final, learnedMemories, whole);
  const rows = parts.n_train + parts.n_valid;
  // A dataset read line by line: its sealed bytes and their plaintext, while the part's examples are collected (then dropped).
  const reading = 2 * datasetBytes;
  const partExamples = Math.max(...[parts.shard, parts.valid, parts.final].map((p) => 2 * p.chars + EXAMPLE_OVERHEAD_BYTES * p.rows));
  const layout = reading + 4 * hyper.features.buckets + 9 * rows + 16 * parts.shard.distinct;
  const phases = {
    prepare: Math.max(layout, reading + partExamples, shard.phases.prepare, valid.phases.prepare, final.phases.prepare),
    training: shard.phases.training,
    final: final.phases.final,
    aggregate: valid.phases.aggregate,
  };
  return { ...shard, peak_bytes: Math.max(...Object.values(phases)), phases };
}
