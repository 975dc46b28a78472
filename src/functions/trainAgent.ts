/** trainAgent: validate, store the dataset, create the run, enqueue its first step; answer 202 at once. */
import { DEPLOY_MODES } from "../db/schema.ts";
import { z } from "zod";
import { buildDataset, checkQualityGate, datasetQuality, loadExamples, storeDatasetObject, type DatasetRow } from "../data/datasets.ts";
import { resolveDatasetRef } from "../data/versions.ts";
import { DatasetRefSchema } from "../data/names.ts";
import { selectSplit, SplitSchema } from "../data/splits.ts";
import type { QualityReport } from "../data/quality/report.ts";
import { readPolicy } from "../pii/policy.ts";
import { requestSlicer } from "../isolate/slices.ts";
import { ExampleSchema, DATA_LIMITS, type DataReport, type Example } from "../data/examples.ts";

/** A run is at most this many queue steps (each a message, a checkpoint and a D1 commit). */
import { DEFAULT_SYNC_EVERY, MAX_WORKERS, TrainingConfigSchema, resolveHyper } from "../model/hyper.ts";
import type { QualityGate } from "../model/quality-gate.ts";
import type { Slicer } from "../isolate/slices.ts";
import { invalidInput } from "../errors.ts";
import { applyParadigm, TRAINING_TYPES } from "../training/paradigms.ts";
import { createRun, noteStepError } from "../training/runs.ts";
import { refuseWhileErasing } from "../erasure/job.ts";
import { checkConcurrentRuns, checkStoredBytes } from "../security/quotas.ts";
import { checkedPlan } from "../training/plan-run.ts";
import { defineFunction, type FunctionContext } from "./registry.ts";
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
    dataset_id: DatasetRefSchema.optional().describe("A dataset's id (ds_…), or the name of a versioned dataset (its latest version, or dataset_version)"),
    dataset_version: z.number().int().min(1).optional().describe("With a dataset name: the version to train on"),
    dataset_ids: z
      .array(DatasetRefSchema)
      .min(2, "dataset_ids must name at least two datasets (one dataset: dataset_id)")
      .max(MAX_WORKERS, `dataset_ids may name at most ${MAX_WORKERS} datasets`)
      .optional()
      .describe(
        "Federated training: datasets of this app (ids or names: their latest versions), one shard each — each dataset's training rows are read only by its own shard step and never copied; the shards' weights are averaged each round (FedAvg, weighted by examples). Sets config.distributed.workers to their count; together at most as many examples as one dataset may hold",
      ),
    split: SplitSchema.default("all").describe("Train on one split of the data (train, validation, test: a stable hash of the normalized input; near-duplicates of test examples are test) or all of it"),
    training_type: z
      .enum(TRAINING_TYPES, { error: () => `training_type must be one of ${TRAINING_TYPES.join(", ")}` })
      .default("supervised")
      .describe("supervised; few_shot (1–20 examples per class: class prototypes in the built-in base's space with the network); transfer (from config.base_agent_id's live version or 'base:glove-en')"),
    config: TrainingConfigSchema.prefault({}),
    deploy: z
      .enum(DEPLOY_MODES, { error: () => `deploy must be one of ${DEPLOY_MODES.join(", ")}` })
      .default("candidate")
      .describe("candidate (default): the new version goes live only if the agent has none yet — else by promoteVersion, a rollout or an experiment; immediate: it goes live when the run succeeds"),
  })
  .strict()
  .superRefine((v, ctx) => {
    if ([v.training_data, v.dataset_id, v.dataset_ids].filter((x) => x !== undefined).length !== 1) {
      ctx.addIssue({ code: "custom", path: ["training_data"], message: "give exactly one of training_data, dataset_id or dataset_ids" });
    }
    if (v.dataset_ids) {
      const seen = new Set<string>();
      v.dataset_ids.forEach((id, i) => {
        if (seen.has(id)) ctx.addIssue({ code: "custom", path: ["dataset_ids", i], message: `${id} is named twice: each dataset is one shard` });
        seen.add(id);
      });
      if (v.split !== "all") ctx.addIssue({ code: "custom", path: ["split"], message: "federated training (dataset_ids) trains on all of each dataset" });
      if (v.training_type !== "supervised") ctx.addIssue({ code: "custom", path: ["training_type"], message: "federated training (dataset_ids) is supervised" });
      const workers = v.config.distributed?.workers;
      if (workers !== undefined && workers !== "auto" && workers !== v.dataset_ids.length) {
        ctx.addIssue({ code: "custom", path: ["config", "distributed", "workers"], message: `federated training has one shard per dataset: ${v.dataset_ids.length}, not ${workers}` });
      }
    }
    if (v.dataset_version !== undefined && (v.dataset_id === undefined || v.dataset_id.startsWith("ds_"))) {
      ctx.addIssue({ code: "custom", path: ["dataset_version"], message: "dataset_version goes with a dataset name in dataset_id" });
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
  dataset_ids: z.array(z.string()).nullable().describe("A federated run's datasets (ids), one per shard in shard order; null otherwise"),
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
    shards: z
      .number()
      .int()
      .describe("config.distributed: shard messages per round, trained in parallel, then one aggregator; 1: a single chain of steps (each of total_steps' training steps is then a round)"),
    queue_messages: z.number().int().describe("Queue messages the run needs at most: per round its fan-out, its shards and its aggregator (shards + 2), or one per step; plus the final step"),
    memory: z
      .object({ peak_mb: z.number().int(), budget_mb: z.number().int() })
      .optional()
      .describe("Estimated peak memory of one queue step, and what a step may use of the Worker's 128 MB"),
  }),
  config: z.record(z.string(), z.unknown()).describe("The resolved configuration (defaults filled, seed chosen)"),
  data_report: DataReportSchema.nullable().describe("Duplicates removed and contradicting labels found (inline data)"),
  quality: z.object({ score: z.number(), counts: z.record(z.string(), z.number()) }).describe("The data quality report's score and counts per code (the whole report: POST /datasets, GET /datasets/{id}/quality)"),
  paradigm: z
    .object({
      training_type: z.enum(TRAINING_TYPES),
      notes: z.array(z.string()),
      base: z.union([z.object({ agent_id: z.string(), version: z.number().int() }), z.object({ model: z.string() })]).optional(),
    })
    .describe("What the training type does with its options (the base it starts from, prototypes, what was not used)"),
  links: z.object({ run: z.string(), events: z.string() }),
});

export const trainAgent = defineFunction({
  name: "trainAgent",
  summary: "Train an agent (supervised, few_shot or transfer) in resumable background steps",
  description:
    "Validates the data and config, stores the dataset in R2 (content-addressed), creates the agent if needed and a training run, and enqueues its first step. Answers 202 with the run id; follow progress with getTrainingRun, GET /runs/{id} or GET /runs/{id}/events.",
  input: TrainAgentInput,
  output: TrainAgentOutput,
  status: 202,
  async handler(ctx, input) {
    await refuseWhileErasing(ctx.db, ctx.appId, input.agent_id);
    await checkConcurrentRuns(ctx.db, ctx.appId, ctx.actor, ctx.quotas);
    let examples: Example[];
    let report: DataReport | null = null;
    let pending = null;
    let datasetId: string;
    let quality: QualityReport;
    /** A federated run's datasets, one per shard. */
    let federated: { ids: string[]; sources: Example[][]; quality: QualityReport } | null = null;
    const slicer = requestSlicer();
    if (input.dataset_ids) {
      federated = await federatedSources(ctx, input.dataset_ids, input.config.quality_gate, slicer);
      examples = federated.sources.flat();
      datasetId = federated.ids[0];
      quality = federated.quality;
    } else if (input.training_data) {
      const data = input.split === "all" ? input.training_data : selectSplit(input.training_data, input.split);
      pending = await buildDataset(ctx.appId, data, "inline", "training_data", { scrubber: await readPolicy(ctx.db, ctx.appId), slicer });
      examples = pending.examples;
      report = pending.report;
      datasetId = pending.row.id;
      quality = pending.quality;
    } else {
      const { row } = await resolveDatasetRef(ctx.db, ctx.appId, input.dataset_id!, input.dataset_version, "dataset_id");
      datasetId = row.id;
      examples = await loadExamples(ctx.env.DATASETS, ctx.appId, row.id);
      if (input.split !== "all") {
        // One split is a dataset of its own (content-addressed like any other).
        pending = await buildDataset(ctx.appId, selectSplit(examples, input.split), "inline", "dataset_id", { scrubber: null, slicer });
        examples = pending.examples;
        datasetId = pending.row.id;
        quality = pending.quality;
      } else quality = await datasetQuality(ctx.env.DATASETS, slicer, row, async () => examples);
    }
    // Nothing is stored or trained when the data fails the gate (a federated run's datasets were checked one by one).
    if (!federated) checkQualityGate(quality, input.config.quality_gate, input.training_data ? "training_data" : "dataset_id");
    // Nothing is stored either when the paradigm's options do not hold (few_shot's limit, transfer's base).
    const dataField = input.training_data ? "training_data" : "dataset_id";
    const resolved = resolveHyper(input.config, randomSeed);
    const { hyper, report: paradigm } = await applyParadigm(
      { db: ctx.db, checkpoints: ctx.env.CHECKPOINTS, appId: ctx.appId, agentId: input.agent_id, env: ctx.env },
      input.training_type,
      federated ? { ...resolved, distributed: { sync_every: DEFAULT_SYNC_EVERY, ...resolved.distributed, workers: federated.ids.length } } : resolved,
      examples,
      dataField,
    );
    const plan = checkedPlan(federated?.sources ?? [examples], hyper, federated ? "dataset_ids" : dataField);
    const runId = randomId("run");
    const now = ctx.now();
    if (pending) {
      await checkStoredBytes(ctx.db, ctx.appId, pending.row, ctx.quotas);
      await storeDatasetObject(ctx.env.DATASETS, pending);
    }
    await createRun(
      ctx.db,
      pending?.row ?? null,
      {
        id: runId,
        appId: ctx.appId,
        requestedBy: ctx.actor,
        agentId: input.agent_id,
        status: "queued",
        trainingType: input.training_type,
        deploy: input.deploy,
        datasetId,
        datasetIds: federated?.ids ?? null,
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
      dataset_ids: federated?.ids ?? null,
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
        shards: plan.shards ?? 1,
        queue_messages: (plan.shards ?? 1) > 1 ? plan.train_steps * (plan.shards! + 2) + 1 : plan.total_steps,
        memory: plan.memory,
      },
      config: { ...hyper },
      data_report: report,
      quality: { score: quality.score, counts: quality.counts },
      paradigm,
      links: { run: `/runs/${runId}`, events: `/runs/${runId}/events` },
    };
  },
});


/**
 * A federated run's datasets: each resolved in this app (an id or a name's
 * latest version), read, and checked against the quality gate on its own
 * (naming it); the run's quality is the lowest score, with counts summed.
 */
async function federatedSources(ctx: FunctionContext, refs: readonly string[], gate: QualityGate, slicer: Slicer): Promise<{ ids: string[]; sources: Example[][]; quality: QualityReport }> {
  const rows: DatasetRow[] = [];
  for (const [i, ref] of refs.entries()) {
    const { row } = await resolveDatasetRef(ctx.db, ctx.appId, ref, undefined, `dataset_ids.${i}`);
    if (rows.some((r) => r.id === row.id)) throw invalidInput([{ path: `dataset_ids.${i}`, message: `${ref} is the same dataset as another of dataset_ids (${row.id})` }]);
    rows.push(row);
  }
  // The run is planned here, with every dataset's examples in hand: the same limit as one dataset's.
  const total = rows.reduce((n, r) => n + r.examples, 0);
  if (total > DATA_LIMITS.maxExamples) {
    throw invalidInput([{ path: "dataset_ids", message: `the datasets hold ${total} examples in all; a federated run may train on at most ${DATA_LIMITS.maxExamples}` }]);
  }
  const ids: string[] = [];
  const sources: Example[][] = [];
  const reports: QualityReport[] = [];
  for (const [i, row] of rows.entries()) {
    const examples = await loadExamples(ctx.env.DATASETS, ctx.appId, row.id);
    const quality = await datasetQuality(ctx.env.DATASETS, slicer, row, async () => examples);
    checkQualityGate(quality, gate, `dataset_ids.${i}`);
    ids.push(row.id);
    sources.push(examples);
    reports.push(quality);
  }
  const lowest = reports.reduce((a, b) => (b.score < a.score ? b : a));
  const counts: Record<string, number> = {};
  for (const r of reports) for (const [code, n] of Object.entries(r.counts)) counts[code] = (counts[code] ?? 0) + n;
  return { ids, sources, quality: { ...lowest, counts } };
}
