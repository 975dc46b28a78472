/** analyzeAndOptimize, getOptimization, setOptimizationSchedule (src/optimize). */
import { and, eq } from "drizzle-orm";
import { z } from "zod";
import { agents, optimizationTrials, OPTIMIZATION_STATUSES } from "../db/schema.ts";
import { findAgent } from "../agent/versions.ts";
import { versionNumbers } from "../deploy/versions-view.ts";
import { findOptimization, optimizeDeps, startOptimization, type Optimization } from "../optimize/run.ts";
import { BudgetSchema, ConstraintsSchema, GoalsSchema, OptimizationPolicySchema } from "../optimize/schedule.ts";
import { defineFunction } from "./registry.ts";
import { AgentIdSchema, randomId, randomSeed } from "./common.ts";
import type { Db } from "../db/client.ts";

const OptimizationViewSchema = z.object({
  optimization_id: z.string(),
  agent_id: z.string(),
  status: z.enum(OPTIMIZATION_STATUSES),
  base_version: z.number().int(),
  trigger: z.enum(["api", "cron"]),
  request: z.record(z.string(), z.unknown()).describe("Goals, constraints, budget, auto_apply"),
  progress: z.object({ rung: z.number().int().describe("-1: the final comparison"), rungs: z.number().int(), trials_done: z.number().int(), trials: z.number().int() }),
  analysis: z.record(z.string(), z.unknown()).describe("Where the agent falls short: failures, latency by source, cost, drift, and the goal furthest from good"),
  report: z.record(z.string(), z.unknown()).nullable().describe("Every candidate on the goals, the Pareto front, the decision and what was applied"),
  run_id: z.string().nullable().describe("The run that trains the chosen configuration on all the data (a candidate version, or live with auto_apply)"),
  error: z.string().nullable(),
  created_at: z.string(),
  finished_at: z.string().nullable(),
});

async function optimizationView(db: Db, o: Optimization): Promise<z.output<typeof OptimizationViewSchema>> {
  const trials = await db.select({ score: optimizationTrials.score }).from(optimizationTrials).where(eq(optimizationTrials.optimizationId, o.id));
  const numbers = await versionNumbers(db, { appId: o.appId, id: o.agentId });
  const { goals, constraints, budget, auto_apply, budgets } = o.request as { goals: unknown; constraints: unknown; budget: unknown; auto_apply: unknown; budgets?: unknown[] };
  return {
    optimization_id: o.id,
    agent_id: o.agentId,
    status: o.status,
    base_version: numbers.get(o.baseVersionId) ?? 0,
    trigger: o.trigger,
    request: { optimization_goals: goals, constraints, budget, auto_apply },
    progress: { rung: o.rung, rungs: budgets?.length ?? 0, trials_done: trials.filter((t) => t.score !== null).length, trials: trials.length },
    analysis: o.analysis,
    report: o.report,
    run_id: o.runId,
    error: o.error,
    created_at: new Date(o.createdAt).toISOString(),
    finished_at: o.finishedAt === null ? null : new Date(o.finishedAt).toISOString(),
  };
}

export const analyzeAndOptimize = defineFunction({
  name: "analyzeAndOptimize",
  summary: "Analyze where an agent falls short and search for a better configuration, gated on data the search never saw",
  description:
    "optimization_goals: maximize_accuracy, minimize_latency, optimize_cost, minimize_size. Analysis first (failures, latency by source, cost, drift); then successive halving over training " +
    "configurations, one queue message per trial; the best and the current configuration are measured on a final check (one input in ten of the training data, never seen by the search), " +
    "as versions and as int8, with the size and speed ladders' picks (the current configuration shrunk). A candidate, chosen on the search set, is applied only when better on the goals and within the constraints on the final check: it trains on all the data " +
    "as a candidate version, or goes live with auto_apply. For a version that answers with a language model, its instructions are optimized too (proposals from failures, " +
    "chosen on validation, gated on the final check). Answers 202; follow with getOptimization.",
  input: z
    .object({
      agent_id: AgentIdSchema,
      optimization_goals: GoalsSchema,
      constraints: ConstraintsSchema.prefault({}),
      budget: BudgetSchema.prefault({}),
      auto_apply: z.boolean().default(false),
    })
    .strict(),
  output: OptimizationViewSchema,
  status: 202,
  async handler(ctx, input) {
    const o = await startOptimization(optimizeDeps(ctx), {
      appId: ctx.appId,
      agentId: input.agent_id,
      id: randomId("opt"),
      seed: randomSeed(),
      trigger: "api",
      goals: input.optimization_goals,
      constraints: input.constraints,
      budget: input.budget,
      auto_apply: input.auto_apply,
    });
    return optimizationView(ctx.db, o);
  },
});

export const getOptimization = defineFunction({
  name: "getOptimization",
  summary: "An optimization: progress, analysis and report",
  description: "The search's progress (rung, trials), the analysis, and — once decided — every candidate, the Pareto front and the decision.",
  input: z.object({ optimization_id: z.string().regex(/^opt_[0-9a-f]{24}$/, "optimization_id must look like opt_ followed by 24 hex digits") }).strict(),
  output: OptimizationViewSchema,
  status: 200,
  async handler(ctx, input) {
    return optimizationView(ctx.db, await findOptimization(ctx.db, ctx.appId, input.optimization_id));
  },
});

export const setOptimizationSchedule = defineFunction({
  name: "setOptimizationSchedule",
  summary: "When the cron optimizes an agent: daily, weekly, or on new feedback, an accuracy drop or drift",
  description: 'schedule: "daily", "weekly", { min_new_feedback }, { accuracy_drop }, or { drift }; with the goals, constraints, budget and auto_apply of analyzeAndOptimize. null removes it.',
  input: z.object({ agent_id: AgentIdSchema, policy: OptimizationPolicySchema.nullable() }).strict(),
  output: z.object({ agent_id: z.string(), policy: OptimizationPolicySchema.nullable() }),
  status: 200,
  async handler(ctx, input) {
    const agent = await findAgent(ctx.db, ctx.appId, input.agent_id);
    await ctx.db.update(agents).set({ optimizationSchedule: input.policy, updatedAt: ctx.now() }).where(and(eq(agents.appId, agent.appId), eq(agents.id, agent.id)));
    return { agent_id: agent.id, policy: input.policy };
  },
});
