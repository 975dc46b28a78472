/** A run's plan, checked before anything is written: its steps within the limit, and a step's memory within a Worker's. */
import type { Example, Hyper } from "../model/hyper.ts";
import { labelExamples, splitSizes } from "../model/prepare.ts";
import { planRun, type Plan } from "../model/plan.ts";
import { dataShape, stepFootprint, type Footprint } from "../model/footprint.ts";
import { learnedMemoryCount, MAX_DEMOS } from "../memory/learned.ts";
import { MIB, STEP_BUDGET_BYTES } from "../isolate/budget.ts";
import { invalidInput } from "../errors.ts";

export const MAX_STEPS_PER_RUN = 10_000;

const mb = (bytes: number) => `${Math.ceil(bytes / MIB)} MB`;

/** The plan of training `examples` with `hyper`; a 400 naming `dataField` or the config lever when it cannot run. */
export function checkedPlan(examples: readonly Example[], hyper: Hyper, dataField: string): Plan {
  const { classes, labels } = labelExamples(examples);
  const sizes = splitSizes(labels, classes.length, hyper);
  const plan = planRun(sizes.n_train, sizes.n_valid, hyper);
  if (plan.total_steps > MAX_STEPS_PER_RUN) {
    throw invalidInput([
      {
        path: "config.examples_per_step",
        message: `this config needs ${plan.total_steps} queue steps (epochs × steps per epoch, or epochs ÷ epochs per step); the limit is ${MAX_STEPS_PER_RUN}: raise examples_per_step or lower epochs`,
      },
    ]);
  }
  // A transfer may also carry its base's demos: up to the demo budget in all.
  const memories = hyper.transfer ? classes.length + MAX_DEMOS : learnedMemoryCount(examples.length, classes.length);
  const footprint = stepFootprint(hyper, dataShape(examples, hyper), memories);
  if (footprint.peak_bytes > STEP_BUDGET_BYTES) throw invalidInput([tooLarge(footprint, hyper, dataField)]);
  plan.memory = { peak_mb: Math.ceil(footprint.peak_bytes / MIB), budget_mb: STEP_BUDGET_BYTES / MIB };
  return plan;
}

/** The 400 for a run whose steps would not fit a Worker: which part is largest, and the levers that shrink it. */
function tooLarge(f: Footprint, hyper: Hyper, dataField: string): { path: string; message: string } {
  const largest = (Object.entries(f.levers) as [keyof Footprint["levers"], number][]).sort((a, b) => b[1] - a[1])[0][0];
  const path = largest === "dense" ? "config.hidden" : largest === "embedding" ? "config.dim" : dataField;
  return {
    path,
    message:
      `this run needs about ${mb(f.peak_bytes)} at a queue step's peak (networks ${mb(f.parts.networks)} for ${f.members} ensemble member${f.members > 1 ? "s" : ""}, ` +
      `training state ${mb(f.parts.state)}, data ${mb(f.parts.examples + f.parts.prepared)}); a step may use ${mb(STEP_BUDGET_BYTES)} of the Worker's 128 MB. ` +
      `Lower config.hidden (${hyper.hidden}), config.ensemble (${f.members}), config.dim (${hyper.dim}) or config.features.max_rows (${f.vocabulary_rows} rows used), or train on fewer or shorter examples`,
  };
}
