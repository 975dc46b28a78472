/**
 * Transfer learning from another agent's live version: its weights and
 * features carry over; the label set is the new data's — output columns of
 * classes both share are kept, classes the base does not know start fresh,
 * classes the new data lacks are dropped. Measured on BANKING77 (bench/transfer.ts):
 * starting from the new data's own vocabulary, with the base's rows where
 * it has them, beats keeping the base's whole vocabulary (which leaves room
 * for one ensemble member only).
 */
import { MAX_EMBEDDING_FLOATS, type Example, type Hyper } from "./hyper.ts";
import type { AgentModel } from "./model.ts";
import type { Prepared } from "./prepare.ts";
import type { Tensors } from "./network.ts";
import { prepareUpdateWork } from "./warm-start.ts";
import { joinMembers, memberSeed, memberTensors } from "./ensemble.ts";
import { archOf, membersFor, prepareWork } from "./prepare.ts";
import { vocabularyRow } from "./features.ts";
import { initParams } from "./network.ts";
import type { Work } from "./work.ts";

/** `model` narrowed to the classes in `keep` (in the model's order): output columns of the others removed. */
export function selectClasses(model: AgentModel, keep: ReadonlySet<string>): AgentModel {
  const cols = model.classes.flatMap((c, i) => (keep.has(c) ? [i] : []));
  const C = model.classes.length;
  const params: Tensors = {};
  for (const [name, t] of Object.entries(model.params)) {
    const plain = name.replace(/^m\d+\//, "");
    if (!plain.startsWith("output.")) {
      params[name] = t;
      continue;
    }
    const rows = t.length / C;
    const out = new Float32Array(rows * cols.length);
    for (let r = 0; r < rows; r++) cols.forEach((c, k) => (out[r * cols.length + k] = t[r * C + c]));
    params[name] = out;
  }
  const prototypes = model.prototypes && { ...model.prototypes, vectors: selectRows(model.prototypes.vectors, model.prototypes.dim, cols) };
  return { ...model, classes: cols.map((c) => model.classes[c]), arch: { ...model.arch, classes: cols.length }, params, prototypes };
}

function selectRows(t: Float32Array, width: number, rows: number[]): Float32Array {
  const out = new Float32Array(rows.length * width);
  rows.forEach((r, k) => out.set(t.subarray(r * width, (r + 1) * width), k * width));
  return out;
}

/** `model` with `n` ensemble members, member k starting as the model's member k mod its count. */
export function withMembers(model: AgentModel, n: number): AgentModel {
  if (n === model.arch.members) return model;
  const params: Tensors = {};
  for (let k = 0; k < n; k++) {
    for (const [name, t] of Object.entries(memberTensors(model.params, k % model.arch.members))) params[`m${k}/${name}`] = t.slice();
  }
  return { ...model, params, arch: { ...model.arch, members: n } };
}

/**
 * A transfer's levers: the base's dim, hidden and features (its weights fit
 * only them); with a frozen embedding (the base's whole table kept) the
 * ensemble members the embedding budget allows.
 */
export function transferHyper(base: AgentModel, hyper: Hyper, nExamples: number): Hyper {
  const h: Hyper = { ...hyper, dim: base.arch.dim, hidden: base.arch.hidden, features: base.features };
  return h.freeze_layers.includes("embedding") ? { ...h, ensemble: transferMembers(base, h, nExamples) } : h;
}

/**
 * Ensemble members of a transfer from `base`: as many as `hyper.ensemble`
 * asks for `nExamples` examples, fewer when the base's embedding table that
 * many times over would pass the embedding budget (members share it).
 */
export function transferMembers(base: AgentModel, hyper: Hyper, nExamples: number): number {
  const fit = Math.max(1, Math.floor(MAX_EMBEDDING_FLOATS / (base.arch.rows * base.arch.dim)));
  return Math.min(membersFor(hyper, nExamples), fit);
}

/**
 * The transfer's data and starting weights. The data are prepared as in any
 * run (the new examples' vocabulary, split and ensemble size); each member
 * then starts from one of the base's: the embedding rows of the features the
 * base knows, the embedding bias and the dense layers copied, the output
 * columns of shared classes copied (new classes start as initialized).
 * With `embedding` frozen the base's vocabulary is kept exactly instead (its
 * table must not change), with the members `transferMembers` allows.
 */
export function* prepareTransferWork(base: AgentModel, examples: readonly Example[], hyper: Hyper): Work<Prepared> {
  if (hyper.freeze_layers.includes("embedding")) {
    const shared = selectClasses(base, new Set(examples.map((e) => e.expected_output)));
    return yield* prepareUpdateWork(withMembers(shared, transferMembers(base, hyper, examples.length)), [], examples, hyper, 0, false);
  }
  const prepared = yield* prepareWork(examples, hyper);
  const arch = archOf(hyper, prepared);
  if (arch.dim !== base.arch.dim || arch.hidden !== base.arch.hidden) throw new Error("a transfer keeps the base's dim and hidden");
  const baseRow = Int32Array.from(prepared.vocab, (b) => vocabularyRow(base.vocab, b));
  const baseClass = prepared.classes.map((c) => base.classes.indexOf(c));
  const { dim: D, hidden: H, classes: C } = arch;
  const B = base.arch.classes;
  const members = Array.from({ length: arch.members }, (_, k) => {
    const t = initParams(arch, memberSeed(hyper.seed, k), hyper.embedding_init);
    const from = memberTensors(base.params, k % base.arch.members);
    const E = t["embedding.weight"];
    baseRow.forEach((j, i) => j >= 0 && E.set(from["embedding.weight"].subarray(j * D, (j + 1) * D), i * D));
    for (const name of ["embedding.bias", "early_layers.weight", "early_layers.bias", "late_layers.weight", "late_layers.bias"]) t[name].set(from[name]);
    baseClass.forEach((j, c) => {
      if (j < 0) return;
      for (let r = 0; r < H; r++) t["output.weight"][r * C + c] = from["output.weight"][r * B + j];
      for (let r = 0; r < D; r++) t["output.skip"][r * C + c] = from["output.skip"][r * B + j];
      t["output.bias"][c] = from["output.bias"][j];
    });
    return t;
  });
  return { ...prepared, start: joinMembers(members) };
}
