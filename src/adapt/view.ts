/** The public view of an adaptation (adaptAgentBehavior's answer, getAdaptation, and a run's view). */
import { and, eq } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "../db/client.ts";
import { adaptations, agentVersions, trainingRuns } from "../db/schema.ts";
import { notFound } from "../errors.ts";
import { ADAPTATION_STRATEGIES, GateReportSchema, RewardFunctionSchema } from "../model/adaptation.ts";

export const ADAPTATION_STATUSES = ["queued", "running", "promoted", "candidate", "unchanged", "failed", "cancelled"] as const;

const Metrics = z.record(z.string(), z.number().nullable());

export const AdaptationViewSchema = z.object({
  adaptation_id: z.string(),
  agent_id: z.string(),
  strategy: z.enum(ADAPTATION_STRATEGIES),
  status: z.enum(ADAPTATION_STATUSES).describe("queued/running: its run trains the candidate; promoted: it passed the gate and went live; candidate: it did not (or auto_promote is false); unchanged: performance_tuning found nothing better than the current settings"),
  trigger: z.enum(["api", "cron"]),
  reward_function: RewardFunctionSchema,
  auto_promote: z.boolean(),
  reported_metrics: Metrics.nullable().describe("performance_metrics as the app sent them"),
  measured_metrics: Metrics.describe("The same measured by the service over the version's executions with feedback"),
  metrics_comparison: z
    .record(z.string(), z.object({ reported: z.number(), measured: z.number(), difference: z.number() }))
    .describe("Each metric both reported and measured: reported − measured"),
  base_version: z.number().int().describe("The version adapted (live when the adaptation started)"),
  run_id: z.string().nullable().describe("The run that trains the candidate (getTrainingRun shows its progress); performance_tuning's has no training steps"),
  candidate_version: z.number().int().nullable(),
  gate: GateReportSchema.nullable().describe("The safety gate's estimate, interval and decision with its reason, once the candidate exists"),
  error: z.string().nullable(),
  created_at: z.string(),
  finished_at: z.string().nullable(),
});
export type AdaptationView = z.output<typeof AdaptationViewSchema>;
type Record_ = typeof adaptations.$inferSelect;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function compare(reported: Record<string, number> | null, measured: Record<string, number | null>): AdaptationView["metrics_comparison"] {
  const out: AdaptationView["metrics_comparison"] = {};
  for (const [k, r] of Object.entries(reported ?? {})) {
    const m = measured[k];
    if (typeof m === "number") out[k] = { reported: r, measured: m, difference: r - m };
  }
  return out;
}

export async function adaptationView(db: Db, record: Record_): Promise<AdaptationView> {
  const [run, base, candidate] = await Promise.all([
    record.runId ? db.query.trainingRuns.findFirst({ columns: { status: true, error: true, finishedAt: true }, where: eq(trainingRuns.id, record.runId) }) : undefined,
    db.query.agentVersions.findFirst({ columns: { version: true }, where: and(eq(agentVersions.appId, record.appId), eq(agentVersions.id, record.baseVersionId)) }),
    record.candidateVersionId
      ? db.query.agentVersions.findFirst({ columns: { version: true }, where: and(eq(agentVersions.appId, record.appId), eq(agentVersions.id, record.candidateVersionId)) })
      : undefined,
  ]);
  const status: AdaptationView["status"] = record.status !== "queued" ? record.status : run?.status === "queued" || run?.status === "failed" || run?.status === "cancelled" ? run.status : "running";
  return {
    adaptation_id: record.id,
    agent_id: record.agentId,
    strategy: record.strategy,
    status,
    trigger: record.trigger,
    reward_function: record.rewardFunction,
    auto_promote: record.autoPromote,
    reported_metrics: record.reportedMetrics,
    measured_metrics: record.measuredMetrics,
    metrics_comparison: compare(record.reportedMetrics, record.measuredMetrics),
    base_version: base?.version ?? 0,
    run_id: record.runId,
    candidate_version: candidate?.version ?? null,
    gate: record.gate,
    error: run?.error ?? null,
    created_at: iso(record.createdAt)!,
    finished_at: iso(record.finishedAt ?? (status === "failed" || status === "cancelled" ? (run?.finishedAt ?? null) : null)),
  };
}

export async function findAdaptation(db: Db, appId: string, id: string): Promise<Record_> {
  const record = await db.query.adaptations.findFirst({ where: and(eq(adaptations.appId, appId), eq(adaptations.id, id)) });
  if (!record) throw notFound("adaptation", id);
  return record;
}

/** The adaptation a run trains for, if any. */
export async function adaptationOfRun(db: Db, appId: string, runId: string): Promise<Record_ | undefined> {
  return db.query.adaptations.findFirst({ where: and(eq(adaptations.appId, appId), eq(adaptations.runId, runId)) });
}
