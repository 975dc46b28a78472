/** configureAgent: how an agent explores, and when the cron adapts it. */
import { and, eq } from "drizzle-orm";
import { z } from "zod";
import { agents } from "../db/schema.ts";
import { notFound } from "../errors.ts";
import { ExplorationSchema } from "../model/policy.ts";
import { AdaptationPolicySchema } from "../model/adaptation.ts";
import { defineFunction } from "./registry.ts";
import { AgentIdSchema } from "./common.ts";

export const configureAgent = defineFunction({
  name: "configureAgent",
  summary: "Set an agent's exploration and adaptation policy",
  description:
    "exploration: { strategy: 'none' | 'epsilon_greedy' | 'softmax', rate } — with a strategy, that share of executions shows a class drawn at random " +
    "(uniformly, or by the network's own probabilities), and every execution logs the probability of what it showed, so adaptAgentBehavior can learn " +
    "from feedback off-policy. adaptation_policy: { strategy, reward_function, every_n_feedback, min_interval_minutes, auto_promote } lets the cron adapt " +
    "the agent when enough new feedback has arrived; null turns it off.",
  input: z
    .object({
      agent_id: AgentIdSchema,
      exploration: ExplorationSchema.optional(),
      adaptation_policy: AdaptationPolicySchema.nullable().optional(),
    })
    .strict(),
  output: z.object({
    agent_id: z.string(),
    exploration: ExplorationSchema,
    adaptation_policy: AdaptationPolicySchema.nullable(),
  }),
  status: 200,
  async handler(ctx, input) {
    const where = and(eq(agents.appId, ctx.appId), eq(agents.id, input.agent_id));
    const agent = await ctx.db.query.agents.findFirst({ where });
    if (!agent) throw notFound("agent", input.agent_id);
    const exploration = input.exploration ?? agent.exploration ?? { strategy: "none" as const, rate: 0 };
    const policy = input.adaptation_policy === undefined ? agent.adaptationPolicy : input.adaptation_policy;
    await ctx.db.update(agents).set({ exploration, adaptationPolicy: policy, updatedAt: ctx.now() }).where(where);
    return { agent_id: agent.id, exploration, adaptation_policy: policy ?? null };
  },
});
