/**
 * What adaptation is made of, free of Worker APIs: the strategies, reward functions and
 * adaptation policies (zod: validation and types), and the reward of one execution.
 */
import { z } from "zod";

export const ADAPTATION_STRATEGIES = ["reinforcement", "online", "performance_tuning", "context_aware"] as const;
export type AdaptationStrategy = (typeof ADAPTATION_STRATEGIES)[number];

export const RewardFunctionSchema = z.union([
  z.enum(["maximize_satisfaction", "maximize_success", "minimize_latency"]),
  z
    .object({
      satisfaction: z.number().min(-10).max(10).optional(),
      success: z.number().min(-10).max(10).optional(),
      latency: z.number().min(-10).max(10).optional().describe("Weight of the answer's latency in seconds (negative: a penalty)"),
    })
    .strict()
    .refine((w) => Object.values(w).some((x) => x !== undefined && x !== 0), { message: "give at least one non-zero weight" }),
]);

export type RewardFunction = z.output<typeof RewardFunctionSchema>;

export const AdaptationPolicySchema = z
  .object({
    strategy: z.enum(ADAPTATION_STRATEGIES),
    reward_function: RewardFunctionSchema.default("maximize_success"),
    every_n_feedback: z.number().int().min(1).max(1_000_000).default(500).describe("Adapt once this many new feedback records have arrived"),
    min_interval_minutes: z.number().int().min(1).max(525_600).default(60),
    auto_promote: z.boolean().default(true).describe("Promote a candidate that passes the safety gate; false: leave every candidate for a person to promote"),
  })
  .strict();
export type AdaptationPolicy = z.output<typeof AdaptationPolicySchema>;

/**
 * A reward in [0, 1] for one execution, from its feedback and latency, as a
 * reward function says. Components:
 * - success: `correct` 1 / `incorrect` 0; else, given a correction, whether the
 *   answer was it; else an explicit `reward`; else `helpful` 1 / `unhelpful` 0;
 * - satisfaction: `user_satisfaction`; else `helpful`/`unhelpful`; else success;
 * - latency: 1 / (1 + seconds) as a reward, or seconds as a penalty (a negative weight).
 * null when the feedback says nothing the function uses.
 */

export interface FeedbackSignals {
  reward: number | null;
  label: "correct" | "incorrect" | "helpful" | "unhelpful" | null;
  correctOutput: string | null;
  userSatisfaction: number | null;
}

export function success(f: FeedbackSignals, output: string): number | null {
  if (f.label === "correct") return 1;
  if (f.label === "incorrect") return 0;
  if (f.correctOutput !== null) return f.correctOutput.trim() === output.trim() ? 1 : 0;
  if (f.reward !== null) return f.reward;
  if (f.label === "helpful") return 1;
  if (f.label === "unhelpful") return 0;
  return null;
}

export function satisfaction(f: FeedbackSignals, output: string): number | null {
  if (f.userSatisfaction !== null) return f.userSatisfaction;
  if (f.label === "helpful") return 1;
  if (f.label === "unhelpful") return 0;
  return success(f, output);
}

const clamp01 = (x: number) => Math.min(1, Math.max(0, x));

export function rewardOf(fn: RewardFunction, f: FeedbackSignals, output: string, latencyMs: number): number | null {
  const seconds = latencyMs / 1000;
  if (fn === "maximize_success") return success(f, output);
  if (fn === "maximize_satisfaction") return satisfaction(f, output);
  if (fn === "minimize_latency") return 1 / (1 + seconds);
  let total = 0;
  let weight = 0;
  for (const [key, w] of Object.entries(fn) as [keyof typeof fn, number | undefined][]) {
    if (!w) continue;
    if (key === "latency") {
      // A penalty in seconds (negative weight) or a reward for speed (positive).
      total += w < 0 ? w * seconds : w / (1 + seconds);
      if (w > 0) weight += w;
      continue;
    }
    const value = key === "success" ? success(f, output) : satisfaction(f, output);
    if (value === null) continue;
    total += w * value;
    weight += Math.abs(w);
  }
  return weight > 0 ? clamp01(total / weight) : null;
}

/** An estimate with its 95% interval. */
export const EstimateSchema = z.object({ value: z.number(), lower: z.number(), upper: z.number() });
export type Estimate = z.output<typeof EstimateSchema>;

/** The safety gate's verdict on a candidate version (src/adapt/gate.ts). */
export const GateReportSchema = z.object({
  metric: z.string().describe("What was estimated, on which held-out data"),
  candidate: EstimateSchema.extend({
    n: z.number().int(),
    ips: EstimateSchema.optional(),
    snips: EstimateSchema.optional(),
    ess: z.number().optional().describe("Effective sample size of the importance weights"),
  }),
  current: z.object({ value: z.number(), n: z.number().int() }).describe("The current version on the same data (observed)"),
  passed: z.boolean().describe("The candidate's lower bound beats the current version"),
  promoted: z.boolean().describe("It went live: passed, auto_promote, and the version it adapts was still live"),
  reason: z.string(),
  segments: z.array(z.object({ segment: z.string(), n: z.number().int(), candidate: z.number(), current: z.number() })).optional().describe("Per context segment (context_aware)"),
});
export type GateReport = z.output<typeof GateReportSchema>;
