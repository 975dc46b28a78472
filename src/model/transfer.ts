/**
 * Transfer learning from another agent's live version: its weights,
 * vocabulary and features carry over; the label set is the new data's —
 * output columns of classes both share are kept, classes the base does not
 * know start imprinted from their examples (warm-start.ts), classes the new
 * data lacks are dropped. A frozen `embedding` keeps the base's vocabulary
 * exactly (its table stays byte-identical); otherwise new features of the
 * new data join it.
 */
import type { Example, Hyper } from "./hyper.ts";
import type { AgentModel } from "./model.ts";
import type { Prepared } from "./prepare.ts";
import type { Tensors } from "./network.ts";
import { prepareUpdateWork } from "./warm-start.ts";
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

/** The transfer's data and starting weights (validation from the new examples, nothing replayed). */
export function* prepareTransferWork(base: AgentModel, examples: readonly Example[], hyper: Hyper): Work<Prepared> {
  const shared = selectClasses(base, new Set(examples.map((e) => e.expected_output)));
  return yield* prepareUpdateWork(shared, [], examples, hyper, 0, !hyper.freeze_layers.includes("embedding"));
}
