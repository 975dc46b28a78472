/**
 * Partitioned data of a distributed run (config.distributed): no queue step
 * holds the whole dataset, so a dataset larger than a Worker's memory trains.
 *
 * The run's inputs are every source's examples in order (one dataset, or
 * `dataset_ids`: one per shard, federated), then — with `label_examples` —
 * each class's text. A coordinator step reads the sources in two passes (the
 * labels first, then the training rows' features) and writes the **layout**:
 * the classes, each row's role (held out for validation, or the shard that
 * trains it), and the shared vocabulary and IDF learned from the training
 * rows (the single chain's, exactly). Then each step reads only its **part**:
 * a shard its own training rows, the aggregator the validation rows, the
 * final step the validation rows and a seeded sample of training rows — and
 * featurizes them with the shared vocabulary.
 *
 * Roles: one source — the seeded stratified split of `prepare` (the same
 * held-out rows as a single chain), then the training rows dealt to the
 * shards round robin in class order, shuffled within each class (every shard
 * an IID sample with each class's share; sizes differ by at most one).
 * Several sources — each source split the same way on its own, its training
 * rows its own shard's (they never meet another source's). Class texts are
 * dealt after the training rows.
 */
import { addDocument, countRowsWork, HASH_WORK, toVocabularyRows, type FeatureConfig } from "./features.ts";
import type { Example, Hyper } from "./hyper.ts";
import { membersFor, preparedOf, stratifiedSplit, vocabularyOf, type Prepared } from "./prepare.ts";
import { permutation, Rng } from "./rng.ts";
import { shardsFor } from "./plan.ts";
import type { Work } from "./work.ts";

/** The role of a held-out row. */
export const VALID = -1;

/** What the coordinator writes once per run: classes, roles, and the shared vocabulary. */
export interface Layout {
  classes: string[];
  /** Examples of each source, in order. */
  source_rows: number[];
  /** Per input row (every source's examples, then each class's text with label_examples): VALID or its shard. */
  roles: Int8Array;
  shards: number;
  members: number;
  /** Sorted bucket ids of the embedding rows, and their IDF (from the training rows). */
  vocab: Int32Array;
  idf: Float32Array;
}

/** The first pass over the sources: each row's output, whether it was generated, and the class list. */
export class LabelCollector {
  private readonly ids = new Map<string, number>();
  private readonly raw: number[] = [];
  private readonly generated: number[] = [];
  readonly source_rows: number[] = [];

  /** One whole source (sources are added in order). */
  addSource(examples: Iterable<Pick<Example, "expected_output" | "synthetic">>): void {
    this.source_rows.push(0);
    for (const e of examples) this.add(e.expected_output, e.synthetic === true);
  }

  add(output: string, synthetic: boolean): void {
    let id = this.ids.get(output);
    if (id === undefined) this.ids.set(output, (id = this.ids.size));
    this.raw.push(id);
    if (synthetic) this.generated.push(this.raw.length - 1);
    this.source_rows[this.source_rows.length - 1]++;
  }

  /** Classes (sorted, as `labelExamples` sorts them), each row's class, and which rows were generated. */
  finish(): Labeled {
    const names = [...this.ids.keys()];
    const classes = [...names].sort();
    const index = new Map(classes.map((c, i) => [c, i]));
    const remap = Int32Array.from(names, (n) => index.get(n)!);
    const synthetic = new Uint8Array(this.raw.length);
    for (const i of this.generated) synthetic[i] = 1;
    return { classes, labels: Int32Array.from(this.raw, (id) => remap[id]), synthetic, source_rows: [...this.source_rows] };
  }
}

export interface Labeled {
  classes: string[];
  /** Class of each example (every source's, in order). */
  labels: Int32Array;
  /** 1 for a generated example (it trains but never validates). */
  synthetic: Uint8Array;
  source_rows: number[];
}

/**
 * Each input row's role (see the module's comment), and the shards: one per
 * source when there are several, else config.distributed's for the training
 * rows (plan.ts shardsFor).
 */
export function rolesOf(data: Labeled, hyper: Hyper): { roles: Int8Array; shards: number } {
  const { labels, synthetic, source_rows, classes } = data;
  const C = classes.length;
  const n = labels.length;
  const texts = hyper.label_examples ? C : 0;
  const roles = new Int8Array(n + texts).fill(VALID);
  const trainOnly = (i: number) => synthetic[i] === 1;
  if (source_rows.length > 1) {
    const shards = source_rows.length;
    let from = 0;
    source_rows.forEach((rows, s) => {
      const { train } = stratifiedSplit(labels.subarray(from, from + rows), C, hyper.seed, hyper.validation_split, (i) => trainOnly(from + i));
      for (const r of train) roles[from + r] = s;
      from += rows;
    });
    for (let c = 0; c < texts; c++) roles[n + c] = c % shards;
    return { roles, shards };
  }
  const { train } = stratifiedSplit(labels, C, hyper.seed, hyper.validation_split, trainOnly);
  const shards = shardsFor(hyper, train.length + texts);
  // Training rows by class, shuffled within each, dealt round robin (class texts last).
  const byClass: number[][] = Array.from({ length: C }, () => []);
  for (const r of train) byClass[labels[r]].push(r);
  const rng = new Rng(hyper.seed, 0x5ad1);
  let k = 0;
  for (const rows of byClass) for (const r of rng.shuffle(Int32Array.from(rows))) roles[r] = k++ % shards;
  for (let c = 0; c < texts; c++) roles[n + c] = k++ % shards;
  return { roles, shards };
}

/** Training rows of each shard, and the held-out rows. */
export function partitionSizes(roles: Int8Array, shards: number): { partitions: number[]; n_valid: number } {
  const partitions = new Array<number>(shards).fill(0);
  let nValid = 0;
  for (const r of roles) {
    if (r === VALID) nValid++;
    else partitions[r]++;
  }
  return { partitions, n_valid: nValid };
}

/** Bucket document frequencies of the training rows, counted one text at a time (the second pass). */
export class VocabularyCounter {
  readonly df: Int32Array;
  private n = 0;
  private readonly features: FeatureConfig;
  constructor(features: FeatureConfig) {
    this.features = features;
    this.df = new Int32Array(features.buckets);
  }
  /** Counts one training row's text; its feature occurrences (the work done). */
  add(text: string): number {
    this.n++;
    return addDocument(this.df, text, this.features);
  }
  /** The layout's vocabulary and IDF: what `prepare` learns from the same training rows. */
  finish(hyper: Hyper, members: number): { vocab: Int32Array; idf: Float32Array } {
    return vocabularyOf(this.df, this.n, hyper, members);
  }
}

/** Which part of the data a step reads. */
export type Part = { kind: "shard"; shard: number } | { kind: "valid" } | { kind: "final" };

/** Training rows the final step samples (fit, learned memories) beside every held-out row. */
export const FINAL_TRAIN_SAMPLE = 4000;

/** The input rows of a part (ascending) and which of them train and which validate (indices into `rows`). */
export function partRows(layout: Pick<Layout, "roles">, part: Part, seed: number): { rows: Int32Array; train: Int32Array; valid: Int32Array } {
  const { roles } = layout;
  const pick = (keep: (role: number) => boolean) => {
    const out: number[] = [];
    roles.forEach((role, i) => keep(role) && out.push(i));
    return Int32Array.from(out);
  };
  if (part.kind === "shard") {
    const rows = pick((role) => role === part.shard);
    return { rows, train: Int32Array.from(rows.keys()), valid: new Int32Array(0) };
  }
  const held = pick((role) => role === VALID);
  if (part.kind === "valid") return { rows: held, train: new Int32Array(0), valid: Int32Array.from(held.keys()) };
  const training = pick((role) => role !== VALID);
  const sample = training.length <= FINAL_TRAIN_SAMPLE ? training : Int32Array.from(permutation(training.length, seed, 0xf1a1).subarray(0, FINAL_TRAIN_SAMPLE), (k) => training[k]);
  const chosen = new Set(sample);
  const rows = Int32Array.from([...held, ...sample]).sort();
  const train: number[] = [];
  const valid: number[] = [];
  rows.forEach((r, k) => (chosen.has(r) ? train : valid).push(k));
  return { rows, train: Int32Array.from(train), valid: Int32Array.from(valid) };
}

/** A part's prepared data: its rows featurized with the layout's vocabulary (`inputs`/`labels`: the part's rows, in order). */
export function* partPreparedWork(inputs: readonly string[], labels: Int32Array, layout: Layout, split: { train: Int32Array; valid: Int32Array }, hyper: Hyper): Work<Prepared> {
  // The raw counts are dropped once mapped to vocabulary rows (footprint.ts: a part's preparing peaks at 16 bytes a feature entry).
  const mapped = toVocabularyRows(yield* countRowsWork(inputs, hyper.features), layout.vocab);
  yield mapped.idx.length * 16;
  return preparedOf(mapped, labels, layout, split);
}

/**
 * Builds a layout in two passes over the sources, one source at a time (so
 * a step holds one source's bytes at most): `label` every source in order,
 * then `count` every source in order, then `finish`.
 */
export class LayoutBuilder {
  private readonly labels = new LabelCollector();
  private data: Labeled | null = null;
  private split: { roles: Int8Array; shards: number } | null = null;
  private readonly counter: VocabularyCounter;
  private row = 0;
  private readonly hyper: Hyper;

  constructor(hyper: Hyper) {
    this.hyper = hyper;
    this.counter = new VocabularyCounter(hyper.features);
  }

  /** The first pass: one source's outputs. */
  label(source: Iterable<Pick<Example, "expected_output" | "synthetic">>): void {
    if (this.data) throw new Error("every source is labelled before any is counted");
    this.labels.addSource(source);
  }

  /** The second pass: one source's training rows' features (pausable). */
  *count(source: Iterable<Pick<Example, "input">>): Work<void> {
    this.data ??= this.labels.finish();
    this.split ??= rolesOf(this.data, this.hyper);
    const { roles } = this.split;
    let work = 0;
    for (const e of source) {
      if (roles[this.row++] !== VALID) work += this.counter.add(e.input);
      if (this.row % 256 === 0) {
        yield work * HASH_WORK;
        work = 0;
      }
    }
  }

  finish(): Layout {
    if (!this.data || !this.split) throw new Error("the sources were not counted");
    const { data, split } = this;
    if (this.row !== data.labels.length) throw new Error(`the sources counted ${this.row} rows, labelled ${data.labels.length}`);
    if (this.hyper.label_examples) for (const c of data.classes) this.counter.add(c);
    const members = membersFor(this.hyper, partitionSizes(split.roles, split.shards).partitions.reduce((a, b) => a + b, 0));
    return { classes: data.classes, source_rows: data.source_rows, roles: split.roles, shards: split.shards, members, ...this.counter.finish(this.hyper, members) };
  }
}

/** The layout of sources held in memory (the in-process driver); the Worker's coordinator builds the same from R2 (training/layout.ts). */
export function* layoutWork(sources: readonly (readonly Example[])[], hyper: Hyper): Work<Layout> {
  const builder = new LayoutBuilder(hyper);
  for (const source of sources) builder.label(source);
  for (const source of sources) yield* builder.count(source);
  return builder.finish();
}

/** Rows of every source in one count. */
export const exampleRows = (layout: Pick<Layout, "source_rows">) => layout.source_rows.reduce((a, b) => a + b, 0);

/**
 * A part's examples and prepared data. `example(i)`: input row i's example,
 * for each of the part's rows below `exampleRows` (the rest are class texts).
 */
export function* partWork(layout: Layout, part: Part, hyper: Hyper, example: (row: number) => Example): Work<{ examples: Example[]; prepared: Prepared }> {
  const { rows, train, valid } = partRows(layout, part, hyper.seed);
  const n = exampleRows(layout);
  const index = new Map(layout.classes.map((c, i) => [c, i]));
  const examples: Example[] = [];
  const inputs: string[] = [];
  const labels = new Int32Array(rows.length);
  rows.forEach((r, k) => {
    if (r >= n) {
      inputs.push(layout.classes[r - n]);
      labels[k] = r - n;
      return;
    }
    const e = example(r);
    const c = index.get(e.expected_output);
    if (c === undefined) throw new Error(`row ${r} has a class the layout does not know`);
    examples.push(e);
    inputs.push(e.input);
    labels[k] = c;
  });
  return { examples, prepared: yield* partPreparedWork(inputs, labels, layout, { train, valid }, hyper) };
}
