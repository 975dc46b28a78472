/** configureAgent: how an agent explores, when the cron adapts it, and its execution cache. */
import { and, eq } from "drizzle-orm";
import { z } from "zod";
import { agents } from "../db/schema.ts";
import { notFound } from "../errors.ts";
import { ExplorationSchema } from "../model/policy.ts";
import { AdaptationPolicySchema } from "../model/adaptation.ts";
import { defineFunction } from "./registry.ts";
import { AgentIdSchema } from "./common.ts";
import { ExecutionCacheSchema } from "../agent/cache.ts";
import { CacheEstimateSchema, estimateOnTraffic, type CacheEstimate } from "../agent/cache-estimate.ts";
import { agentVersions } from "../db/schema.ts";

export const configureAgent = defineFunction({
  name: "configureAgent",
  summary: "Set an agent's exploration, adaptation policy and execution cache",
  description:
    "exploration: { strategy: 'none' | 'epsilon_greedy' | 'softmax', rate } — with a strategy, that share of executions shows a class drawn at random " +
    "(uniformly, or by the network's own probabilities), and every execution logs the probability of what it showed, so adaptAgentBehavior can learn " +
    "from feedback off-policy. adaptation_policy: { strategy, reward_function, every_n_feedback, min_interval_minutes, auto_promote } lets the cron adapt " +
    "the agent when enough new feedback has arrived; null turns it off. execution_cache: { ttl_seconds } reuses the answer the agent's version gave " +
    "the same normalized input (case, punctuation and spacing aside) for that long — emptied when the live version or the agent's memories change, " +
    "never used while the agent explores; null turns it off. The answer reports what the cache would have done on the live version's recorded " +
    "traffic (execution_cache_estimate: hit rate, and how often a hit's recorded answer equals the cached one).",
  input: z
    .object({
      agent_id: AgentIdSchema,
      exploration: ExplorationSchema.optional(),
      adaptation_policy: AdaptationPolicySchema.nullable().optional(),
      execution_cache: ExecutionCacheSchema.nullable().optional(),
    })
    .strict(),
  output: z.object({
    agent_id: z.string(),
    exploration: ExplorationSchema,
    adaptation_policy: AdaptationPolicySchema.nullable(),
    execution_cache: ExecutionCacheSchema.nullable(),
    execution_cache_estimate: CacheEstimateSchema
      .nullable()
      .describe("The cache at its TTL replayed over the live version's latest recorded executions; null without a cache or a live version"),
  }),
  status: 200,
  async handler(ctx, input) {
    const where = and(eq(agents.appId, ctx.appId), eq(agents.id, input.agent_id));
    const agent = await ctx.db.query.agents.findFirst({ where });
    if (!agent) throw notFound("agent", input.agent_id);
    const exploration = input.exploration ?? agent.exploration ?? { strategy: "none" as const, rate: 0 };
    const policy = input.adaptation_policy === undefined ? agent.adaptationPolicy : input.adaptation_policy;
    const cache = input.execution_cache === undefined ? agent.executionCache : input.execution_cache;
    await ctx.db.update(agents).set({ exploration, adaptationPolicy: policy, executionCache: cache, updatedAt: ctx.now() }).where(where);
    let estimate: CacheEstimate | null = null;
    if (cache && agent.activeVersionId) {
      const live = await ctx.db.query.agentVersions.findFirst({ where: eq(agentVersions.id, agent.activeVersionId) });
      if (live) [estimate] = await estimateOnTraffic(ctx.db, { appId: ctx.appId, agentId: agent.id, versionId: live.id, contextFeatures: live.params.context_features === true }, [cache.ttl_seconds]);
    }
    return { agent_id: agent.id, exploration, adaptation_policy: policy ?? null, execution_cache: cache ?? null, execution_cache_estimate: estimate };
  },
});
