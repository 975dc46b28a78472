/** trainAgent: validate, store the dataset, create the run, enqueue its first step; answer 202 at once. */
import { DEPLOY_MODES } from "../db/schema.ts";
import { z } from "zod";
import { buildDataset, findDataset, loadExamples, storeDatasetObject } from "../data/datasets.ts";
import { ExampleSchema, DATA_LIMITS, type DataReport, type Example } from "../data/examples.ts";

/** A run is at most this many queue steps (each a message, a checkpoint and a D1 commit). */
export const MAX_STEPS_PER_RUN = 10_000;
import { labelExamples, splitSizes } from "../model/prepare.ts";
import { planRun } from "../model/plan.ts";
import { dataShape, stepFootprint, type Footprint } from "../model/footprint.ts";
import type { Hyper } from "../model/hyper.ts";
import { learnedMemoryCount } from "../memory/learned.ts";
import { MIB, STEP_BUDGET_BYTES } from "../isolate/budget.ts";
import { TrainingConfigSchema, resolveHyper } from "../model/hyper.ts";
import { createRun, noteStepError } from "../training/runs.ts";
import { invalidInput, notFound } from "../errors.ts";
import { defineFunction } from "./registry.ts";
import { AgentIdSchema, randomId, randomSeed } from "./common.ts";

export const TrainAgentInput = z
  .object({
    agent_id: AgentIdSchema,
    training_data: z
      .array(ExampleSchema)
      .min(1, "training_data must hold at least one example")
      .max(DATA_LIMITS.maxExamples, `training_data may hold at most ${DATA_LIMITS.maxExamples} examples`)
      .optional()
      .describe("Labeled examples; or give dataset_id of a dataset uploaded with POST /datasets"),
    dataset_id: z
      .string()
      .regex(/^ds_[0-9a-f]{32}$/, "dataset_id must look like ds_ followed by 32 hex digits")
      .optional(),
    training_type: z.enum(["supervised"], { error: () => "training_type must be 'supervised' (few_shot and transfer are not available yet)" }).default("supervised"),
    config: TrainingConfigSchema.prefault({}),
    deploy: z
      .enum(DEPLOY_MODES, { error: () => `deploy must be one of ${DEPLOY_MODES.join(", ")}` })
      .default("candidate")
      .describe("candidate (default): the new version goes live only if the agent has none yet — else by promoteVersion, a rollout or an experiment; immediate: it goes live when the run succeeds"),
  })
  .strict()
  .superRefine((v, ctx) => {
    if ((v.training_data === undefined) === (v.dataset_id === undefined)) {
      ctx.addIssue({ code: "custom", path: ["training_data"], message: "give exactly one of training_data or dataset_id" });
    }
  });

const DataReportSchema = z.object({
  examples: z.number().int(),
  classes: z.number().int(),
  duplicates_removed: z.number().int(),
  duplicates: z.array(z.object({ index: z.number().int(), duplicate_of: z.number().int() })),
  contradictions: z.array(z.object({ input: z.string(), outputs: z.array(z.string()), indices: z.array(z.number().int()) })),
  contradiction_count: z.number().int(),
});

export const TrainAgentOutput = z.object({
  run_id: z.string(),
  status: z.literal("queued"),
  agent_id: z.string(),
  dataset_id: z.string(),
  training_type: z.string(),
  deploy: z.enum(DEPLOY_MODES),
  plan: z.object({
    n_train: z.number().int(),
    n_valid: z.number().int(),
    epochs: z.number().int(),
    steps_per_epoch: z.number().int().describe("Queue steps per epoch (1 when a step holds whole epochs)"),
    epochs_per_step: z.number().int().describe("Whole epochs per queue step (1 when an epoch spans steps)"),
    members: z.number().int().describe("Networks in the model's ensemble (each step trains every one)"),
    refit: z.boolean().describe("After the validation phase the networks retrain on every row (total_steps is then an upper bound)"),
    total_steps: z.number().int(),
    memory: z
      .object({ peak_mb: z.number().int(), budget_mb: z.number().int() })
      .optional()
      .describe("Estimated peak memory of one queue step, and what a step may use of the Worker's 128 MB"),
  }),
  config: z.record(z.string(), z.unknown()).describe("The resolved configuration (defaults filled, seed chosen)"),
  data_report: DataReportSchema.nullable().describe("Duplicates removed and contradicting labels found (inline data)"),
  links: z.object({ run: z.string(), events: z.string() }),
});

export const trainAgent = defineFunction({
  name: "trainAgent",
  summary: "Train an agent (supervised) in resumable background steps",
  description:
    "Validates the data and config, stores the dataset in R2 (content-addressed), creates the agent if needed and a training run, and enqueues its first step. Answers 202 with the run id; follow progress with getTrainingRun, GET /runs/{id} or GET /runs/{id}/events.",
  input: TrainAgentInput,
  output: TrainAgentOutput,
  status: 202,
  async handler(ctx, input) {
    let examples: Example[];
    let report: DataReport | null = null;
    let pending = null;
    let datasetId: string;
    if (input.training_data) {
      pending = await buildDataset(ctx.appId, input.training_data, "inline", "training_data");
      examples = pending.examples;
      report = pending.report;
      datasetId = pending.row.id;
    } else {
      const row = await findDataset(ctx.db, ctx.appId, input.dataset_id!);
      if (!row) throw notFound("dataset", input.dataset_id!);
      datasetId = row.id;
      examples = await loadExamples(ctx.env.DATASETS, ctx.appId, row.id);
    }
    const hyper = resolveHyper(input.config, randomSeed);
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
    const footprint = stepFootprint(hyper, dataShape(examples, hyper), learnedMemoryCount(examples.length, classes.length));
    if (footprint.peak_bytes > STEP_BUDGET_BYTES) throw invalidInput([tooLarge(footprint, hyper, input.training_data ? "training_data" : "dataset_id")]);
    plan.memory = { peak_mb: Math.ceil(footprint.peak_bytes / MIB), budget_mb: STEP_BUDGET_BYTES / MIB };
    const runId = randomId("run");
    const now = ctx.now();
    if (pending) await storeDatasetObject(ctx.env.DATASETS, pending);
    await createRun(
      ctx.db,
      pending?.row ?? null,
      {
        id: runId,
        appId: ctx.appId,
        agentId: input.agent_id,
        status: "queued",
        trainingType: input.training_type,
        deploy: input.deploy,
        datasetId,
        config: hyper,
        plan,
        createdAt: now,
        updatedAt: now,
      },
    );
    try {
      await ctx.env.STEPS.send({ run_id: runId, seq: 1 });
    } catch (e) {
      // The run stays queued; the watchdog enqueues it again.
      await noteStepError(ctx.db, runId, `enqueue failed: ${e instanceof Error ? e.message : String(e)}`, ctx.now());
    }
    return {
      run_id: runId,
      status: "queued" as const,
      agent_id: input.agent_id,
      dataset_id: datasetId,
      training_type: input.training_type,
      deploy: input.deploy,
      plan: {
        n_train: plan.n_train,
        n_valid: plan.n_valid,
        epochs: plan.epochs,
        steps_per_epoch: plan.steps_per_epoch,
        epochs_per_step: plan.epochs_per_step,
        members: plan.members,
        refit: plan.refit !== null,
        total_steps: plan.total_steps,
        memory: plan.memory,
      },
      config: { ...hyper },
      data_report: report,
      links: { run: `/runs/${runId}`, events: `/runs/${runId}/events` },
    };
  },
});

const mb = (bytes: number) => `${Math.ceil(bytes / MIB)} MB`;

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
