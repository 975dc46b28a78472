/**
 * Optimization schedules (setOptimizationSchedule): `daily`, `weekly`, or
 * triggers — enough new feedback, a drop of feedback success, or drift of the
 * inputs. The cron starts those that are due, at most a few per invocation;
 * the unique index of active optimizations makes overlapping cron runs start
 * at most one per agent.
 */
import { and, count, desc, eq, gt, isNotNull, sql } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "../db/client.ts";
import { agents, feedback, optimizations } from "../db/schema.ts";
import { successSql } from "../feedback/sql.ts";
import { DomainError } from "../errors.ts";
import { OPTIMIZATION_GOALS } from "./pareto.ts";
import { startOptimization, type OptimizeDeps } from "./run.ts";

export const GoalsSchema = z
  .array(z.enum(OPTIMIZATION_GOALS, { error: `each goal must be one of ${OPTIMIZATION_GOALS.join(", ")}` }))
  .min(1, `give at least one goal: ${OPTIMIZATION_GOALS.join(", ")}`)
  .transform((g) => [...new Set(g)]);

export const ConstraintsSchema = z
  .object({
    max_accuracy_loss: z.number().min(0).max(1).default(0.005).describe("Largest accuracy loss allowed against the current version on the final check"),
    max_latency_ms: z.number().positive().optional(),
  })
  .strict();

export const BudgetSchema = z
  .object({
    trials: z.number().int().min(3).max(81).default(9).describe("Configurations in the first rung of successive halving"),
    minutes: z.number().min(1).max(24 * 60).default(30),
    llm_calls: z
      .number()
      .int()
      .min(0)
      .max(5000)
      .default(500)
      .describe("Most language-model calls a language-model agent's prompt optimization may make (it needs up to 441, each priced in the report); below what it needs, or 0, it does not run"),
  })
  .strict();

export const ScheduleSchema = z.union([
  z.enum(["daily", "weekly"]),
  z.object({ min_new_feedback: z.number().int().min(1) }).strict(),
  z.object({ accuracy_drop: z.number().gt(0).max(1) }).strict(),
  z.object({ drift: z.number().gt(0).max(1) }).strict(),
]);

export const OptimizationPolicySchema = z
  .object({
    schedule: ScheduleSchema,
    optimization_goals: GoalsSchema,
    constraints: ConstraintsSchema.prefault({}),
    budget: BudgetSchema.prefault({}),
    auto_apply: z.boolean().default(false),
  })
  .strict();
export type OptimizationPolicy = z.output<typeof OptimizationPolicySchema>;

const DAY = 86_400_000;

/** Why the agent is due now, or null. */
async function due(db: Db, appId: string, agentId: string, p: OptimizationPolicy, now: number): Promise<string | null> {
  const [last] = await db.select({ at: optimizations.createdAt }).from(optimizations).where(and(eq(optimizations.appId, appId), eq(optimizations.agentId, agentId))).orderBy(desc(optimizations.createdAt)).limit(1);
  const since = last?.at ?? 0;
  // Never more often than hourly, whatever the trigger.
  if (now - since < DAY / 24) return null;
  const s = p.schedule;
  if (s === "daily" || s === "weekly") return now - since >= (s === "daily" ? DAY : 7 * DAY) ? s : null;
  if ("min_new_feedback" in s) {
    const [{ n }] = await db.select({ n: count() }).from(feedback).where(and(eq(feedback.appId, appId), eq(feedback.agentId, agentId), gt(feedback.createdAt, since)));
    return n >= s.min_new_feedback ? `${n} new feedback records` : null;
  }
  if ("accuracy_drop" in s) {
    const rows = await db.all<{ s: number | null }>(sql`
      SELECT ${successSql} AS s FROM executions e JOIN feedback f ON f.app_id = e.app_id AND f.execution_id = e.id
      WHERE e.app_id = ${appId} AND e.agent_id = ${agentId} ORDER BY e.created_at DESC LIMIT 1000`);
    const xs = rows.map((r) => r.s).filter((x): x is number => x !== null);
    if (xs.length < 200) return null;
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    const drop = mean(xs.slice(xs.length / 2)) - mean(xs.slice(0, xs.length / 2));
    return drop >= s.accuracy_drop ? `feedback success dropped by ${drop.toFixed(3)}` : null;
  }
  // Drift is measured by the analysis of the optimization itself; due when the last one saw at least this much.
  const [prev] = await db.select({ analysis: optimizations.analysis }).from(optimizations).where(and(eq(optimizations.appId, appId), eq(optimizations.agentId, agentId))).orderBy(desc(optimizations.createdAt)).limit(1);
  const drift = (prev?.analysis as { drift?: { drift?: number | null } } | undefined)?.drift?.drift ?? null;
  return prev === undefined || (drift !== null && drift >= s.drift) ? `drift ${drift === null ? "not measured yet" : drift.toFixed(3)}` : null;
}

export interface ScheduleReport {
  started: { app_id: string; agent_id: string; optimization_id: string; why: string }[];
  refused: { app_id: string; agent_id: string; code: string; message: string }[];
}

export async function optimizeDueAgents(deps: OptimizeDeps, newId: () => string, seed: () => number, limits = { scanned: 50, started: 2 }): Promise<ScheduleReport> {
  const report: ScheduleReport = { started: [], refused: [] };
  const rows = await deps.db
    .select({ appId: agents.appId, id: agents.id, schedule: agents.optimizationSchedule })
    .from(agents)
    .where(and(isNotNull(agents.optimizationSchedule), isNotNull(agents.activeVersionId)))
    .limit(limits.scanned);
  for (const a of rows) {
    if (report.started.length >= limits.started) break;
    const policy = OptimizationPolicySchema.safeParse(a.schedule);
    if (!policy.success) continue;
    const why = await due(deps.db, a.appId, a.id, policy.data, deps.now());
    if (!why) continue;
    try {
      const p = policy.data;
      const o = await startOptimization(deps, { appId: a.appId, agentId: a.id, id: newId(), seed: seed(), trigger: "cron", goals: p.optimization_goals, constraints: p.constraints, budget: p.budget, auto_apply: p.auto_apply });
      report.started.push({ app_id: a.appId, agent_id: a.id, optimization_id: o.id, why });
    } catch (e) {
      if (!(e instanceof DomainError)) throw e;
      report.refused.push({ app_id: a.appId, agent_id: a.id, code: e.code, message: e.message });
    }
  }
  return report;
}
