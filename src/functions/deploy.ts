/** Gradual rollouts and A/B experiments (src/deploy/splits.ts). */
import { z } from "zod";
import { EXPERIMENT_METRICS } from "../feedback/sql.ts";
import { DEFAULT_TAU, findSplit, SplitViewSchema, splitView, splitViews, startSplit, stopSplit } from "../deploy/splits.ts";
import { TRAFFIC_SPLIT_KINDS } from "../db/schema.ts";
import { defineFunction } from "./registry.ts";
import { AgentIdSchema, randomId } from "./common.ts";

const VersionNumberSchema = z.number({ error: "must be a version number" }).int().min(1);
const MetricSchema = z.enum(EXPERIMENT_METRICS, { error: `metric must be one of ${EXPERIMENT_METRICS.join(", ")}` });
const AlphaSchema = z.number().min(0.001).max(0.2).default(0.05).describe("False-positive rate the sequential test keeps, however often it is looked at");
const TauSchema = z.number().positive().optional().describe("Size of the effects expected (the mixture's standard deviation); default 0.05 for success and satisfaction, 10% of the control's mean for latency");

export const startRollout = defineFunction({
  name: "startRollout",
  summary: "Send a growing share of the live traffic to a candidate version, step by step",
  description:
    "steps: shares of traffic, increasing (e.g. [0.05, 0.25, 1.0]); reaching 1.0 (or the end) promotes the version. executeAgent routes by a sticky hash of user_id (or the input). " +
    "The cron advances a step when the version has min_samples samples of the gate's metric and is not significantly worse than the live version (always-valid sequential test), " +
    "and rolls back at once when it is significantly worse.",
  input: z
    .object({
      agent_id: AgentIdSchema,
      version: VersionNumberSchema,
      steps: z
        .array(z.number().gt(0).max(1))
        .min(1)
        .max(10)
        .default([0.05, 0.25, 1])
        .refine((s) => s.every((x, i) => i === 0 || x > s[i - 1]), { message: "steps must increase" }),
      gate: z
        .object({ metric: MetricSchema.default("success"), min_samples: z.number().int().min(10).max(1_000_000).default(200), alpha: AlphaSchema, tau: TauSchema })
        .strict()
        .prefault({}),
    })
    .strict(),
  output: SplitViewSchema,
  status: 201,
  async handler(ctx, input) {
    const now = ctx.now();
    const split = await startSplit(ctx.db, {
      appId: ctx.appId,
      agentId: input.agent_id,
      id: randomId("rol"),
      kind: "rollout",
      treatment: input.version,
      share: input.steps[0],
      steps: input.steps,
      settings: { metric: input.gate.metric, alpha: input.gate.alpha, tau: input.gate.tau ?? DEFAULT_TAU[input.gate.metric], min_samples: input.gate.min_samples },
      now,
    });
    return splitView(ctx.db, split, now);
  },
});

export const startExperiment = defineFunction({
  name: "startExperiment",
  summary: "A/B test a version against the live one with an always-valid sequential test",
  description:
    "traffic: the treatment's share. The mixture sequential probability ratio test can be looked at any time without inflating false positives; the cron stops the experiment when decided " +
    "(or after max_samples samples) and, with on_decision 'promote', makes a better treatment live; a worse one gets no more traffic.",
  input: z
    .object({
      agent_id: AgentIdSchema,
      control: VersionNumberSchema.optional().describe("The live version (default)"),
      treatment: VersionNumberSchema,
      metric: MetricSchema.default("success"),
      traffic: z.number().gt(0).lt(1).default(0.5),
      max_samples: z.number().int().min(100).max(10_000_000).default(20_000),
      alpha: AlphaSchema,
      tau: TauSchema,
      on_decision: z.enum(["promote", "none"]).default("promote"),
    })
    .strict(),
  output: SplitViewSchema,
  status: 201,
  async handler(ctx, input) {
    const now = ctx.now();
    const split = await startSplit(ctx.db, {
      appId: ctx.appId,
      agentId: input.agent_id,
      id: randomId("exp"),
      kind: "experiment",
      control: input.control,
      treatment: input.treatment,
      share: input.traffic,
      steps: null,
      settings: { metric: input.metric, alpha: input.alpha, tau: input.tau ?? DEFAULT_TAU[input.metric], max_samples: input.max_samples, on_decision: input.on_decision },
      now,
    });
    return splitView(ctx.db, split, now);
  },
});

/** getRollout and getExperiment: one split of a kind, by its id. */
function splitGetter(kind: "rollout" | "experiment", prefix: "rol" | "exp", summary: string, description: string) {
  const field = `${kind}_id` as const;
  return defineFunction({
    name: kind === "rollout" ? "getRollout" : "getExperiment",
    summary,
    description,
    input: z.object({ [field]: z.string().regex(new RegExp(`^${prefix}_[0-9a-f]{24}$`), `${field} must look like ${prefix}_ followed by 24 hex digits`) }).strict(),
    output: SplitViewSchema,
    status: 200,
    async handler(ctx, input) {
      return splitView(ctx.db, await findSplit(ctx.db, ctx.appId, String(input[field])), ctx.now());
    },
  });
}

export const getRollout = splitGetter("rollout", "rol", "A rollout: its step, share, both arms, the estimate, interval and decision", "As of now while active.");
export const getExperiment = splitGetter(
  "experiment",
  "exp",
  "An experiment: both arms, the estimate, the always-valid interval and p-value, and the decision",
  "As of now while active: looking does not inflate false positives.",
);

export const stopTrafficSplit = defineFunction({
  name: "stopTrafficSplit",
  summary: "Stop a rollout or experiment now: all traffic back to the live version",
  description: "id: a rollout or experiment id.",
  input: z.object({ id: z.string().regex(/^(rol|exp)_[0-9a-f]{24}$/, "id must be a rollout or experiment id"), reason: z.string().trim().min(1).max(500).default("stopped by hand") }).strict(),
  output: SplitViewSchema,
  status: 200,
  async handler(ctx, input) {
    const now = ctx.now();
    return splitView(ctx.db, await stopSplit(ctx.db, ctx.appId, input.id, input.reason, now), now);
  },
});

export const listTrafficSplits = defineFunction({
  name: "listTrafficSplits",
  summary: "An agent's rollouts and experiments, newest first, with their arms and decisions",
  description: "Each as getRollout or getExperiment answers it (an active one as of now). kind: only rollouts or only experiments.",
  input: z
    .object({
      agent_id: AgentIdSchema,
      kind: z.enum(TRAFFIC_SPLIT_KINDS, { error: () => `kind must be one of ${TRAFFIC_SPLIT_KINDS.join(", ")}` }).optional(),
      limit: z.number().int().min(1).max(50).default(10),
    })
    .strict(),
  output: z.object({ agent_id: z.string(), splits: z.array(SplitViewSchema) }),
  status: 200,
  async handler(ctx, input) {
    return { agent_id: input.agent_id, splits: await splitViews(ctx.db, ctx.appId, input.agent_id, input.limit, ctx.now(), input.kind) };
  },
});
