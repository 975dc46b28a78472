/** adaptAgentBehavior and getAdaptation: the loop's Update (src/adapt). */
import { z } from "zod";
import { DEPLOY_MODES } from "../db/schema.ts";
import { ADAPTATION_STRATEGIES, RewardFunctionSchema } from "../model/adaptation.ts";
import { startAdaptation, isRunStrategy, ADAPT_DEFAULTS } from "../adapt/start.ts";
import { tunePerformance } from "../adapt/tuning.ts";
import { AdaptationViewSchema, adaptationView, findAdaptation } from "../adapt/view.ts";
import { defineFunction } from "./registry.ts";
import { AgentIdSchema, randomId, randomSeed } from "./common.ts";

const PerformanceMetricsSchema = z
  .record(z.string().min(1).max(64), z.number().finite())
  .refine((m) => Object.keys(m).length <= 20, { message: "performance_metrics may hold at most 20 metrics" })
  .describe("What the app measured, e.g. { success_rate: 0.85, user_satisfaction: 0.9, response_time: 1.2 } (seconds): stored and set beside what the service measures");

const SettingsSchema = z
  .object({
    epochs: z.number().int().min(1).max(100).optional().describe(`Passes over the data (default ${ADAPT_DEFAULTS.offPolicy.epochs} off-policy, ${ADAPT_DEFAULTS.online.epochs} online)`),
    learning_rate: z.number().min(1e-5).max(1).optional(),
    clip: z.number().min(1).max(1000).optional().describe(`Largest importance weight 1/propensity (default ${ADAPT_DEFAULTS.offPolicy.clip})`),
    negative: z.number().min(0).max(1).optional().describe(`How strongly an unrewarded answer is pushed down (default ${ADAPT_DEFAULTS.offPolicy.negative})`),
    distill: z.number().min(0).max(1).optional().describe(`online: weight of the current version's own answers on replayed examples, against forgetting (default ${ADAPT_DEFAULTS.online.distill})`),
  })
  .strict();

export const adaptAgentBehavior = defineFunction({
  name: "adaptAgentBehavior",
  summary: "Adapt an agent from its users' feedback into a candidate version, promoted only if the safety gate says it is better",
  description:
    "reinforcement: off-policy learning from logged executions with feedback (the class shown, its propensity, the reward), anchored by the agent's training examples. " +
    "context_aware: the same, with the executions' context as features (reported per context segment). online: corrections (feedback with correct_output) update " +
    "the current weights, with a replay of earlier examples; a new answer adds a class. performance_tuning: chooses the confidence threshold, memories used and demo " +
    "similarity that maximize the reward on logged feedback (no training). Every result is a candidate version: the gate estimates its reward on held-out feedback " +
    "(IPS, SNIPS, doubly robust, 95% interval, effective sample size) and promotes it only when the lower bound beats the current version. " +
    "Too little feedback is a 409 saying how much more is needed. Run strategies answer at once with the run that trains (getAdaptation, getTrainingRun).",
  input: z
    .object({
      agent_id: AgentIdSchema,
      adaptation_strategy: z.enum(ADAPTATION_STRATEGIES, { error: `adaptation_strategy must be one of ${ADAPTATION_STRATEGIES.join(", ")}` }),
      reward_function: RewardFunctionSchema.default("maximize_success"),
      performance_metrics: PerformanceMetricsSchema.optional(),
      auto_promote: z.boolean().optional().describe("false: the candidate waits for promoteVersion (the same as deploy 'candidate')"),
      deploy: z
        .enum(DEPLOY_MODES, { error: () => `deploy must be one of ${DEPLOY_MODES.join(", ")}` })
        .optional()
        .describe("immediate (default): the candidate goes live as soon as the safety gate passes it; candidate: it waits for promoteVersion, a rollout or an experiment"),
      config: SettingsSchema.optional(),
    })
    .strict()
    .refine((v) => v.deploy === undefined || v.auto_promote === undefined || v.auto_promote === (v.deploy === "immediate"), {
      path: ["deploy"],
      message: "deploy and auto_promote disagree: give one of them",
    }),
  output: AdaptationViewSchema.extend({
    data: z.object({ learn: z.number().int(), holdout: z.number().int() }).describe("Feedback rows learned from, and held out for the gate"),
    plan: z.object({ n_train: z.number().int(), n_valid: z.number().int(), epochs: z.number().int(), total_steps: z.number().int(), memory_mb: z.number() }).nullable(),
  }),
  status: 202,
  async handler(ctx, input) {
    const deps = { db: ctx.db, env: ctx.env, now: ctx.now, newId: randomId, seed: randomSeed };
    const common = {
      appId: ctx.appId,
      agentId: input.agent_id,
      rewardFunction: input.reward_function,
      reportedMetrics: input.performance_metrics ?? null,
      autoPromote: input.auto_promote ?? input.deploy !== "candidate",
      trigger: "api" as const,
    };
    const strategy = input.adaptation_strategy;
    const started = isRunStrategy(strategy)
      ? await startAdaptation(deps, { ...common, strategy, settings: input.config ?? {} })
      : await tunePerformance(deps, common);
    return { ...(await adaptationView(ctx.db, await findAdaptation(ctx.db, ctx.appId, started.adaptation_id))), data: started.data, plan: started.plan };
  },
});

export const getAdaptation = defineFunction({
  name: "getAdaptation",
  summary: "Status and safety-gate verdict of an adaptation",
  description: "What adaptAgentBehavior (or the cron) started: its run's status, the candidate version, and the gate's estimate, interval, decision and reason.",
  input: z.object({ adaptation_id: z.string().regex(/^adp_[0-9a-f]{24}$/, "adaptation_id must look like adp_ followed by 24 hex digits") }).strict(),
  output: AdaptationViewSchema,
  status: 200,
  async handler(ctx, input) {
    return adaptationView(ctx.db, await findAdaptation(ctx.db, ctx.appId, input.adaptation_id));
  },
});
