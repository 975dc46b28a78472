/** A run's plan, checked before anything is written: its steps within the limit, and a step's memory within a Worker's. */
import type { Example, Hyper } from "../model/hyper.ts";
import { canonicalLine } from "../data/examples.ts";
import { labelExamples, splitSizes } from "../model/prepare.ts";
import { planRun, type Plan } from "../model/plan.ts";
import { dataShape, partitionedFootprint, partShapes, stepFootprint, type Footprint } from "../model/footprint.ts";
import { FINAL_TRAIN_SAMPLE, LabelCollector, partitionSizes, rolesOf, type Layout } from "../model/partition.ts";
import { learnedMemoryCount, MAX_DEMOS } from "../memory/learned.ts";
import { MIB, STEP_BUDGET_BYTES } from "../isolate/budget.ts";
import { invalidInput } from "../errors.ts";

export const MAX_STEPS_PER_RUN = 10_000;

const mb = (bytes: number) => `${Math.ceil(bytes / MIB)} MB`;

/**
 * The plan of training on `sources` (one dataset's examples, or one per shard
 * of a federated run) with `hyper`; a 400 naming `dataField` or the config
 * lever when it cannot run.
 */
export function checkedPlan(sources: readonly (readonly Example[])[], hyper: Hyper, dataField: string): Plan {
  const { plan, footprint } = runFootprint(sources, hyper);
  if (plan.total_steps > MAX_STEPS_PER_RUN) {
    throw invalidInput([
      {
        path: "config.examples_per_step",
        message: `this config needs ${plan.total_steps} queue steps (epochs × steps per epoch, or epochs ÷ epochs per step); the limit is ${MAX_STEPS_PER_RUN}: raise examples_per_step or lower epochs`,
      },
    ]);
  }
  if (footprint.peak_bytes > STEP_BUDGET_BYTES) throw invalidInput([tooLarge(footprint, hyper, dataField)]);
  plan.memory = { peak_mb: Math.ceil(footprint.peak_bytes / MIB), budget_mb: STEP_BUDGET_BYTES / MIB };
  return plan;
}

/** The plan and the estimated memory of its steps (footprint.ts), unchecked (bench/step-memory.ts prints it). */
export function runFootprint(sources: readonly (readonly Example[])[], hyper: Hyper): { plan: Plan; footprint: Footprint } {
  const examples = sources.length === 1 ? sources[0] : sources.flat();
  const { classes, labels } = labelExamples(examples);
  // A transfer may also carry its base's demos: up to the demo budget in all.
  const memories = (n: number) => (hyper.transfer ? classes.length + MAX_DEMOS : learnedMemoryCount(n, classes.length));
  const layout = distributedLayout(sources, hyper);
  if (!layout) {
    const sizes = splitSizes(labels, classes.length, hyper);
    return { plan: planRun(sizes.n_train, sizes.n_valid, hyper), footprint: stepFootprint(hyper, dataShape(examples, hyper), memories(examples.length)) };
  }
  const sizes = partitionSizes(layout.roles, layout.shards);
  const plan = planRun(sizes.partitions.reduce((a, b) => a + b, 0), sizes.n_valid, hyper, sizes.partitions);
  const finalExamples = Math.min(FINAL_TRAIN_SAMPLE, plan.n_train) + plan.n_valid;
  return { plan, footprint: partitionedFootprint(hyper, partShapesOf(layout, examples, hyper), Math.max(...sources.map(jsonlBytes)), memories(finalExamples)) };
}

/** A distributed run's roles (and shards), as its coordinator will lay the data out; null for a single chain. */
function distributedLayout(sources: readonly (readonly Example[])[], hyper: Hyper): Pick<Layout, "roles" | "shards" | "classes"> | null {
  if (!hyper.distributed && sources.length === 1) return null;
  const collector = new LabelCollector();
  for (const source of sources) collector.addSource(source);
  const labeled = collector.finish();
  const { roles, shards } = rolesOf(labeled, hyper);
  if (shards < 2) return null;
  // What a shard cannot do with only its own rows.
  const refused = [
    hyper.refit === true && { path: "config.refit", message: "a distributed run does not refit (its shards hold training rows only): leave refit \"auto\" or false" },
    hyper.prototype_weight > 0 && { path: "config.prototype_weight", message: "the prototype head needs every row in one step: not with config.distributed" },
    hyper.transfer && { path: "config.distributed", message: "transfer training runs as a single chain: remove config.distributed" },
  ].filter((x) => x !== false && x !== undefined);
  if (refused.length > 0) throw invalidInput(refused);
  return { roles, shards, classes: labeled.classes };
}

function partShapesOf(layout: Pick<Layout, "roles" | "shards" | "classes">, examples: readonly Example[], hyper: Hyper) {
  const n = examples.length;
  return partShapes(layout, hyper, (r) => (r < n ? { input: examples[r].input, chars: examples[r].input.length + examples[r].expected_output.length } : { input: layout.classes[r - n], chars: 0 }));
}

/** The bytes of a dataset's canonical JSONL, counted line by line (the whole text is never built). */
function jsonlBytes(examples: readonly Example[]): number {
  const utf8 = new TextEncoder();
  return examples.reduce((s, e) => s + utf8.encode(canonicalLine(e)).length + 1, 0);
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
