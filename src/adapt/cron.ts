/**
 * The cron's adaptations: agents whose adaptation policy (configureAgent) is
 * due — at least `every_n_feedback` feedback records since their last
 * adaptation, `min_interval_minutes` since it started, none in progress —
 * are adapted with the policy's strategy, reward function and auto_promote,
 * a bounded number per invocation. Each one started is an adaptation record
 * with trigger "cron"; the report says what was started and what was not,
 * and why.
 */
import { and, count, desc, eq, gt, isNotNull, asc } from "drizzle-orm";
import { adaptations, agents, feedback } from "../db/schema.ts";
import { DomainError } from "../errors.ts";
import { isRunStrategy, startAdaptation, type StartDeps } from "./start.ts";
import { tunePerformance } from "./tuning.ts";

/** Agents with a policy looked at, and adaptations started, per invocation at most. */
export const CRON_AGENTS_SCANNED = 100;
export const CRON_ADAPTATIONS_STARTED = 3;

export interface CronReport {
  started: { app_id: string; agent_id: string; adaptation_id: string; strategy: string }[];
  refused: { app_id: string; agent_id: string; code: string; message: string }[];
}

export async function adaptDueAgents(deps: StartDeps, limits = { scanned: CRON_AGENTS_SCANNED, started: CRON_ADAPTATIONS_STARTED }): Promise<CronReport> {
  const { db } = deps;
  const report: CronReport = { started: [], refused: [] };
  // Least recently touched first: an agent adapted (or refused) now goes to the back of the line.
  const candidates = await db
    .select({ appId: agents.appId, id: agents.id, policy: agents.adaptationPolicy })
    .from(agents)
    .where(and(isNotNull(agents.adaptationPolicy), isNotNull(agents.activeVersionId)))
    .orderBy(asc(agents.updatedAt))
    .limit(limits.scanned);
  const now = deps.now();
  for (const agent of candidates) {
    if (report.started.length >= limits.started) break;
    const policy = agent.policy;
    if (!policy) continue;
    const [last] = await db
      .select({ createdAt: adaptations.createdAt })
      .from(adaptations)
      .where(and(eq(adaptations.appId, agent.appId), eq(adaptations.agentId, agent.id)))
      .orderBy(desc(adaptations.createdAt))
      .limit(1);
    if (last && now - last.createdAt < policy.min_interval_minutes * 60_000) continue;
    const since = last?.createdAt ?? 0;
    const [fresh] = await db
      .select({ n: count() })
      .from(feedback)
      .where(and(eq(feedback.appId, agent.appId), eq(feedback.agentId, agent.id), gt(feedback.createdAt, since)));
    if ((fresh?.n ?? 0) < policy.every_n_feedback) continue;
    const req = {
      appId: agent.appId,
      agentId: agent.id,
      rewardFunction: policy.reward_function,
      reportedMetrics: null,
      autoPromote: policy.auto_promote,
      trigger: "cron" as const,
    };
    try {
      const strategy = policy.strategy;
      const started = isRunStrategy(strategy) ? await startAdaptation(deps, { ...req, strategy, settings: {} }) : await tunePerformance(deps, req);
      report.started.push({ app_id: agent.appId, agent_id: agent.id, adaptation_id: started.adaptation_id, strategy });
    } catch (e) {
      // One agent's trouble does not stop the others'.
      const [code, message] = e instanceof DomainError ? [e.code, e.message] : ["internal", e instanceof Error ? e.message : String(e)];
      report.refused.push({ app_id: agent.appId, agent_id: agent.id, code, message });
    }
    // Whatever happened, the agent waits for its turn again.
    await db.update(agents).set({ updatedAt: deps.now() }).where(and(eq(agents.appId, agent.appId), eq(agents.id, agent.id)));
  }
  return report;
}
