/**
 * Distillation (model compression): a smaller student configuration trained
 * on the same examples, each row's target mixed with the current model's own
 * calibrated probabilities (the teacher's), so that the student answers like
 * the teacher where the teacher is right and learns its uncertainty — the
 * soft targets of Learning without Forgetting, here from a larger network
 * (or an ensemble) to a small one.
 */
import { fitPreparedWork, type FitResult } from "../model/fit.ts";
import { Ensemble } from "../model/ensemble.ts";
import type { Example, Hyper } from "../model/hyper.ts";
import { predict, type AgentModel } from "../model/model.ts";
import { prepareWork } from "../model/prepare.ts";
import { forwardCost, type Work } from "../model/work.ts";

/** `weight`: how much of each target is the teacher's (0: labels only, 1: the teacher only). */
export function* distillWork(teacher: AgentModel, examples: readonly Example[], student: Hyper, weight: number): Work<FitResult> {
  const prepared = yield* prepareWork(examples, student);
  const C = prepared.classes.length;
  const toStudent = teacher.classes.map((c) => prepared.classes.indexOf(c));
  // Rows in the order prepare made them: the examples, then (label_examples) each class's own text.
  const inputs = [...examples.map((e) => e.input), ...(student.label_examples ? prepared.classes : [])];
  const targets = new Float32Array(inputs.length * C);
  const has = new Uint8Array(inputs.length);
  const ens = new Ensemble(teacher.arch, teacher.params);
  for (const r of prepared.train) {
    const probs = predict(teacher, inputs[r], ens).probs;
    for (let k = 0; k < probs.length; k++) if (toStudent[k] >= 0) targets[r * C + toStudent[k]] = probs[k];
    has[r] = 1;
    yield teacher.arch.members * forwardCost(teacher.arch, 64);
  }
  prepared.soft = { targets, has, weight };
  return yield* fitPreparedWork(prepared, student);
}
