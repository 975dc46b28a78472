/** The public view of a training run (GET /runs/:id, getTrainingRun, SSE events). */
import { z } from "zod";
import { and, desc, eq, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { agentVersions, runEpochs, runShards, runSteps, trainingRuns, RUN_STATUSES } from "../db/schema.ts";
import { runEpochMetrics, type Run } from "./runs.ts";
import { AdaptationViewSchema, adaptationOfRun, adaptationView } from "../adapt/view.ts";

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export const EpochMetricsSchema = z.object({
  epoch: z.number().int().describe("0 is the untrained network"),
  train_loss: z.number().nullable(),
  valid_loss: z.number().nullable(),
  valid_accuracy: z.number().nullable(),
});

export const RunViewSchema = z.object({
  run_id: z.string(),
  agent_id: z.string(),
  status: z.enum(RUN_STATUSES),
  training_type: z.string(),
  dataset_id: z.string(),
  dataset_ids: z.array(z.string()).nullable().describe("A federated run's datasets, one per shard; null otherwise"),
  progress: z.object({
    phase: z.enum(["validation", "refit"]).describe("validation: training split, validated each epoch; refit: retraining on every row"),
    epoch: z.number().int().describe("Epochs done in this phase"),
    epochs: z.number().int().describe("Epochs of this phase (the refit's: the chosen epoch)"),
    step: z.number().int(),
    total_steps: z.number().int(),
    fraction: z.number(),
  }),
  metrics: z.object({
    epochs: z.array(EpochMetricsSchema),
    best_epoch: z.number().int().nullable(),
    baseline_valid_accuracy: z.number().nullable(),
    best_valid_accuracy: z.number().nullable(),
  }),
  version: z.object({ id: z.string(), version: z.number().int() }).nullable(),
  error: z.string().nullable(),
  last_step_error: z.string().nullable(),
  timing: z.object({
    created_at: z.string(),
    started_at: z.string().nullable(),
    finished_at: z.string().nullable(),
    updated_at: z.string(),
    elapsed_ms: z.number(),
    steps_committed: z.number().int(),
    mean_step_ms: z.number().nullable(),
    max_step_ms: z.number().nullable().describe("The longest committed step (a distributed run: the longest aggregator), against the Worker's CPU limit per invocation"),
    rounds: z
      .object({
        shards: z.number().int(),
        shard_ms: z.number().describe("Time of every shard's work, summed (what the shards cost in all)"),
        max_shard_ms: z.number().describe("The longest shard"),
        critical_path_ms: z.number().describe("Per committed round, its slowest shard plus its aggregator, summed: the run's wall time when each round's shards run at once"),
      })
      .nullable()
      .describe("A distributed run's rounds (config.distributed); null for a single chain"),
  }),
  config: z.record(z.string(), z.unknown()),
  plan: z.record(z.string(), z.unknown()),
  adaptation: AdaptationViewSchema.pick({ adaptation_id: true, strategy: true, status: true, base_version: true, candidate_version: true, gate: true })
    .nullable()
    .describe("The adaptation this run trains a candidate for (adaptAgentBehavior), with the safety gate's verdict once it ends"),
});
export type RunView = z.infer<typeof RunViewSchema>;

/** A distributed run's shard time in all, and its committed rounds' slowest shards summed. */
async function roundTimes(db: Db, runId: string): Promise<{ shardMs: number; slowestMs: number; maxMs: number }> {
  const perRound = db
    .select({ total: sql<number>`sum(${runShards.ms})`.as("total"), slowest: sql<number>`max(${runShards.ms})`.as("slowest") })
    .from(runShards)
    .innerJoin(runSteps, and(eq(runSteps.runId, runShards.runId), eq(runSteps.seq, runShards.seq)))
    .where(eq(runShards.runId, runId))
    .groupBy(runShards.seq)
    .as("per_round");
  const [row] = await db
    .select({ shardMs: sql<number | null>`sum(${perRound.total})`, slowestMs: sql<number | null>`sum(${perRound.slowest})`, maxMs: sql<number | null>`max(${perRound.slowest})` })
    .from(perRound);
  return { shardMs: row?.shardMs ?? 0, slowestMs: row?.slowestMs ?? 0, maxMs: row?.maxMs ?? 0 };
}

export async function runView(db: Db, run: Run, now: number): Promise<RunView> {
  const shards = run.plan.shards ?? 1;
  const [epochs, [steps], version, adaptation, rounds] = await Promise.all([
    runEpochMetrics(db, run.id),
    db.select({ n: sql<number>`count(*)`, ms: sql<number | null>`avg(${runSteps.ms})`, max: sql<number | null>`max(${runSteps.ms})`, total: sql<number | null>`sum(${runSteps.ms})` }).from(runSteps).where(eq(runSteps.runId, run.id)),
    run.versionId ? db.query.agentVersions.findFirst({ where: and(eq(agentVersions.id, run.versionId), eq(agentVersions.appId, run.appId)) }) : undefined,
    adaptationOfRun(db, run.appId, run.id).then((a) => (a ? adaptationView(db, a) : null)),
    shards > 1 ? roundTimes(db, run.id) : null,
  ]);
  // Early stopping and the refit (as long as the chosen epoch) shorten a run: until its end the plan's total is an upper bound.
  const total = run.status === "succeeded" ? run.seq : run.trainingDone ? run.seq + 1 : run.plan.total_steps;
  const best = epochs.find((e) => e.epoch === run.bestEpoch);
  return {
    run_id: run.id,
    agent_id: run.agentId,
    status: run.status,
    training_type: run.trainingType,
    dataset_id: run.datasetId,
    dataset_ids: run.datasetIds,
    progress: {
      phase: run.refitting ? ("refit" as const) : ("validation" as const),
      epoch: run.epoch,
      epochs: run.refitting && run.bestEpoch ? run.bestEpoch : run.plan.epochs,
      step: run.seq,
      total_steps: total,
      fraction: total > 0 ? run.seq / total : 0,
    },
    metrics: {
      epochs,
      best_epoch: run.bestEpoch,
      baseline_valid_accuracy: epochs.find((e) => e.epoch === 0)?.valid_accuracy ?? null,
      best_valid_accuracy: best?.valid_accuracy ?? null,
    },
    version: version ? { id: version.id, version: version.version } : null,
    error: run.error,
    last_step_error: run.lastError,
    timing: {
      created_at: iso(run.createdAt)!,
      started_at: iso(run.startedAt),
      finished_at: iso(run.finishedAt),
      updated_at: iso(run.updatedAt)!,
      elapsed_ms: (run.finishedAt ?? now) - (run.startedAt ?? run.createdAt),
      steps_committed: steps?.n ?? 0,
      mean_step_ms: steps?.ms ?? null,
      max_step_ms: steps?.max ?? null,
      rounds: rounds ? { shards, shard_ms: rounds.shardMs, max_shard_ms: rounds.maxMs, critical_path_ms: rounds.slowestMs + (steps?.total ?? 0) } : null,
    },
    config: { ...run.config },
    plan: { ...run.plan },
    adaptation: adaptation
      ? { adaptation_id: adaptation.adaptation_id, strategy: adaptation.strategy, status: adaptation.status, base_version: adaptation.base_version, candidate_version: adaptation.candidate_version, gate: adaptation.gate }
      : null,
  };
}

/** One run in an agent's list of runs: what it is, where it stands, what it reached. */
export const RunSummarySchema = z.object({
  run_id: z.string(),
  status: z.enum(RUN_STATUSES),
  training_type: z.string(),
  dataset_id: z.string(),
  epoch: z.number().int(),
  epochs: z.number().int(),
  best_epoch: z.number().int().nullable(),
  best_valid_accuracy: z.number().nullable(),
  version: z.number().int().nullable().describe("The version the run made (once succeeded)"),
  shards: z.number().int().describe("Shards of each round (1: a single chain)"),
  created_at: z.string(),
  finished_at: z.string().nullable(),
});
export type RunSummary = z.infer<typeof RunSummarySchema>;

/** An agent's runs, newest first (one query: each run with its best epoch's validation accuracy and its version). */
export async function runSummaries(db: Db, appId: string, agentId: string, limit: number, status?: Run["status"]): Promise<RunSummary[]> {
  const rows = await db
    .select({ run: trainingRuns, accuracy: runEpochs.validAccuracy, version: agentVersions.version })
    .from(trainingRuns)
    .leftJoin(runEpochs, and(eq(runEpochs.runId, trainingRuns.id), eq(runEpochs.epoch, trainingRuns.bestEpoch)))
    .leftJoin(agentVersions, and(eq(agentVersions.appId, trainingRuns.appId), eq(agentVersions.id, trainingRuns.versionId)))
    .where(and(eq(trainingRuns.appId, appId), eq(trainingRuns.agentId, agentId), status ? eq(trainingRuns.status, status) : undefined))
    .orderBy(desc(trainingRuns.createdAt), desc(trainingRuns.id))
    .limit(limit);
  return rows.map(({ run, accuracy, version }) => ({
    run_id: run.id,
    status: run.status,
    training_type: run.trainingType,
    dataset_id: run.datasetId,
    epoch: run.epoch,
    epochs: run.refitting && run.bestEpoch ? run.bestEpoch : run.plan.epochs,
    best_epoch: run.bestEpoch,
    best_valid_accuracy: accuracy ?? null,
    version: version ?? null,
    shards: run.plan.shards ?? 1,
    created_at: iso(run.createdAt)!,
    finished_at: iso(run.finishedAt),
  }));
}
