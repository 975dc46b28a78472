/**
 * analyzeAndOptimize's analysis: from what the service recorded, where the
 * agent falls short. Failures (fallback answers, the latest evaluation's
 * weak classes and confused pairs, feedback success), speed (latency by what
 * answered, the execution cache apart), cost (ensemble size, version bytes, memories, tokens), drift
 * (the share of recent inputs' features the vocabulary does not know, against
 * the training data's; confidence and success trends), and which goal is
 * furthest from good; what the execution cache would have done on recorded
 * traffic, and context pruning (context.ts). Bounded: the newest 2,000
 * executions, 200 inputs for drift, 5,000 for the cache.
 */
import { and, count, desc, eq, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { agentMemories, evaluations, executions } from "../db/schema.ts";
import { successSql } from "../feedback/sql.ts";
import { countRows as hashedRows, toVocabularyRows } from "../model/features.ts";
import type { AgentModel } from "../model/model.ts";
import type { Example } from "../model/hyper.ts";
import type { Agent, Version } from "../agent/versions.ts";
import { estimateOnTraffic, type CacheEstimate } from "../agent/cache-estimate.ts";
import type { Constraints, Goal } from "./pareto.ts";
import { pruneContext, type ContextPruning } from "./context.ts";
import { z } from "zod";
import { ReportSchema } from "../evaluation/report.ts";

export interface Analysis {
  executions: number;
  failures: {
    fallback_share: number | null;
    fallback_examples: string[];
    feedback_success: { older: number | null; newer: number | null; n: number };
    weak_classes: { class: string; recall: number; support: number }[];
    most_confused: { expected: string; answered: string; count: number }[];
    evaluation: string | null;
  };
  latency_by_source: { source: string; n: number; mean_ms: number; p95_ms: number }[];
  cost: { ensemble_members: number; version_bytes: number | null; memories: number; tokens: number; cost_usd: number; vocabulary_rows: number };
  drift: { unseen_features_recent: number | null; unseen_features_training: number; drift: number | null; confidence: { older: number | null; newer: number | null } };
  furthest_goal: { goal: Goal; gap: number; why: string };
  /** The execution cache replayed over the live version's recorded traffic at each of CACHE_TTLS, and whether it is on. */
  caching: { ttl_seconds: number | null; estimates: CacheEstimate[] };
  /** How many memories executions read, tuned on logged executions with feedback (context.ts). */
  context_pruning: ContextPruning;
}

/** The TTLs the analysis replays the execution cache at (a minute, ten, an hour, a day). */
export const CACHE_TTLS = [60, 600, 3600, 86_400];

const WINDOW = 2000;

/** What the analysis reads of an evaluation's accuracy details (evaluation/criteria.ts writes them). */
const AccuracyDetailsSchema = z.object({
  per_class: z.array(z.object({ class: z.string(), recall: z.number(), support: z.number() })).optional(),
  most_confused: z.array(z.object({ expected: z.string(), answered: z.string(), count: z.number() })).optional(),
});

/** The share of an input's hashed features the vocabulary lacks, averaged over `inputs`. */
function unseenShare(model: AgentModel, inputs: readonly string[]): number {
  if (inputs.length === 0) return 0;
  const hashed = hashedRows([...inputs], model.features);
  const known = toVocabularyRows(hashed, model.vocab);
  let share = 0;
  for (let r = 0; r < inputs.length; r++) {
    const all = hashed.offsets[r + 1] - hashed.offsets[r];
    const kept = known.offsets[r + 1] - known.offsets[r];
    share += all > 0 ? 1 - kept / all : 0;
  }
  return share / inputs.length;
}

const half = (xs: number[]) => {
  const mean = (v: number[]) => (v.length ? v.reduce((s, x) => s + x, 0) / v.length : null);
  const mid = Math.floor(xs.length / 2);
  return { older: mean(xs.slice(0, mid)), newer: mean(xs.slice(mid)) };
};

export async function analyze(
  db: Db,
  checkpoints: R2Bucket,
  agent: Agent,
  live: Version,
  model: AgentModel,
  training: readonly Example[],
  request: { goals: readonly Goal[]; constraints: Constraints },
): Promise<Analysis> {
  const { appId, agentId } = live;
  const recent = await db
    .select({ input: executions.input, source: executions.source, latency: executions.latencyMs, confidence: executions.confidence, fallback: executions.fallback, tokens: executions.tokens, cost: executions.costUsd, cached: executions.cached })
    .from(executions)
    .where(and(eq(executions.appId, appId), eq(executions.agentId, agentId)))
    .orderBy(desc(executions.createdAt), desc(executions.id))
    .limit(WINDOW);
  recent.reverse();
  const bySource = new Map<string, number[]>();
  // Answers from the execution cache are their own source: they cost what a lookup costs, whatever first answered.
  for (const e of recent) {
    const source = e.cached ? "cache" : e.source;
    bySource.set(source, [...(bySource.get(source) ?? []), e.latency]);
  }
  const latency = [...bySource.entries()].map(([source, xs]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    return { source, n: xs.length, mean_ms: xs.reduce((s, x) => s + x, 0) / xs.length, p95_ms: sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)] };
  });
  const success = await db.all<{ s: number }>(sql`
    SELECT ${successSql} AS s FROM executions e JOIN feedback f ON f.app_id = e.app_id AND f.execution_id = e.id
    WHERE e.app_id = ${appId} AND e.agent_id = ${agentId} ORDER BY e.created_at DESC LIMIT ${WINDOW}`);
  const successes = success.map((r) => r.s).filter((x): x is number => x !== null).reverse();
  const evaluation = await db.query.evaluations.findFirst({ where: and(eq(evaluations.appId, appId), eq(evaluations.versionId, live.id), eq(evaluations.status, "succeeded")), orderBy: desc(evaluations.createdAt) });
  const report = ReportSchema.safeParse(evaluation?.report);
  const accuracyDetails = AccuracyDetailsSchema.safeParse(report.success ? report.data.criteria.accuracy?.details : undefined).data;
  const [{ memories }] = await db.select({ memories: count() }).from(agentMemories).where(and(eq(agentMemories.appId, appId), eq(agentMemories.agentId, agentId)));
  const head = await checkpoints.head(live.checkpointKey);
  const sample = recent.slice(-200).map((e) => e.input);
  const trainingSample = training.filter((_, i) => i % Math.max(1, Math.floor(training.length / 200)) === 0).slice(0, 200).map((e) => e.input);
  const unseenRecent = sample.length > 0 ? unseenShare(model, sample) : null;
  const unseenTraining = unseenShare(model, trainingSample);
  const fallbackShare = recent.length > 0 ? recent.filter((e) => e.fallback).length / recent.length : null;
  const analysis: Omit<Analysis, "furthest_goal" | "caching" | "context_pruning"> = {
    executions: recent.length,
    failures: {
      fallback_share: fallbackShare,
      fallback_examples: recent.filter((e) => e.fallback).slice(-5).map((e) => e.input.slice(0, 200)),
      feedback_success: { ...half(successes), n: successes.length },
      weak_classes: (accuracyDetails?.per_class ?? []).filter((c) => c.recall < 0.7).sort((a, b) => a.recall - b.recall).slice(0, 10),
      most_confused: (accuracyDetails?.most_confused ?? []).slice(0, 5),
      evaluation: evaluation?.id ?? null,
    },
    latency_by_source: latency,
    cost: {
      ensemble_members: model.arch.members,
      version_bytes: head?.size ?? null,
      memories,
      tokens: recent.reduce((s, e) => s + e.tokens, 0),
      cost_usd: recent.reduce((s, e) => s + e.cost, 0),
      vocabulary_rows: model.arch.rows,
    },
    drift: { unseen_features_recent: unseenRecent, unseen_features_training: unseenTraining, drift: unseenRecent === null ? null : unseenRecent - unseenTraining, confidence: half(recent.map((e) => e.confidence)) },
  };
  const estimates = await estimateOnTraffic(db, { appId, agentId, versionId: live.id, contextFeatures: live.params.context_features === true }, CACHE_TTLS);
  const contextPruning = await pruneContext(db, checkpoints, agent, live, request.goals, request.constraints);
  return { ...analysis, furthest_goal: furthest(analysis, live), caching: { ttl_seconds: agent.executionCache?.ttl_seconds ?? null, estimates }, context_pruning: contextPruning };
}

/** How far each goal is from good (0 good … 1 bad), and the worst with its reason. */
function furthest(a: Omit<Analysis, "furthest_goal" | "caching" | "context_pruning">, live: Version): Analysis["furthest_goal"] {
  const observed = a.failures.feedback_success.newer ?? live.metrics.evaluation?.scores.accuracy ?? live.metrics.validation?.accuracy ?? null;
  const p95 = Math.max(0, ...a.latency_by_source.map((l) => l.p95_ms));
  const gaps: { goal: Goal; gap: number; why: string }[] = [
    {
      goal: "maximize_accuracy",
      gap: observed === null ? 0.5 : 1 - observed,
      why: observed === null ? "no feedback or evaluation yet says how accurate it is" : `accuracy ${observed.toFixed(3)} (${a.failures.feedback_success.newer !== null ? "feedback" : "evaluation or validation"}); fallback on ${((a.failures.fallback_share ?? 0) * 100).toFixed(1)}% of executions`,
    },
    { goal: "minimize_latency", gap: Math.min(1, p95 / 200), why: `p95 latency ${p95.toFixed(1)} ms over the last ${a.executions} executions (200 ms counts as fully slow)` },
    {
      goal: "optimize_cost",
      gap: Math.min(1, (a.cost.version_bytes ?? 0) / (16 * 2 ** 20)) * 0.5 + (a.cost.ensemble_members - 1) * 0.15,
      why: `${a.cost.ensemble_members} network(s), version ${((a.cost.version_bytes ?? 0) / 2 ** 20).toFixed(1)} MB of 16, ${a.cost.memories} memories`,
    },
  ];
  return gaps.reduce((x, y) => (y.gap > x.gap ? y : x));
}
