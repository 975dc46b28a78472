/**
 * Context pruning: how many of the retrieved memories an execution reads
 * (memories_per_execution) and how similar a demo must be to answer
 * (demo_min_similarity), tuned on the live version's logged executions with
 * feedback by the same off-policy replay as performance_tuning (adapt/replay.ts),
 * its confidence threshold kept. The settings are chosen on the executions
 * learned from and judged on the held-out ones by a paired comparison with the
 * current settings (the doubly robust estimate per execution, a 95% interval of
 * the difference):
 *   - for maximize_accuracy, the best estimate, applied when the interval's lower
 *     bound is above zero;
 *   - for minimize_latency and optimize_cost, the fewest memories read whose
 *     estimate is within max_accuracy_loss of the current one (the best
 *     estimate among those, then the demo threshold nearest the current one),
 *     applied when the lower bound is above −max_accuracy_loss.
 * Reading fewer memories spares what each read costs — prompt tokens for a
 * language-model agent; the local model retrieves them either way (its trace
 * keeps them for replays) and only answers from fewer.
 */
import { z } from "zod";
import type { Db } from "../db/client.ts";
import type { Agent, Version } from "../agent/versions.ts";
import { loadModel } from "../agent/versions.ts";
import { executionSettings, type ExecutionSettings } from "../agent/decide.ts";
import { predict } from "../model/model.ts";
import { modelText } from "../model/context.ts";
import { NO_EXPLORATION } from "../model/policy.ts";
import { MAX_TRACED_ROWS, splitRows, tracedRows, type TracedRow } from "../adapt/data.ts";
import { MIN_LOGGED_HOLDOUT, MIN_LOGGED_TO_LEARN } from "../adapt/start.ts";
import { MIN_GATE_ESS } from "../adapt/gate.ts";
import { fitRewardModel, loggedAnswers, outcome, TUNING_GRID, withPolicy, type ReplayRow } from "../adapt/replay.ts";
import type { RewardModel } from "../adapt/reward-model.ts";
import type { Constraints, Goal } from "./pareto.ts";

const ContextSettingsSchema = z.object({ memories_per_execution: z.number().int(), demo_min_similarity: z.number() });
export type ContextSettings = z.infer<typeof ContextSettingsSchema>;

export const ContextPruningSchema = z.discriminatedUnion("status", [
  z.object({ status: z.literal("not_enough_feedback"), missing: z.string() }),
  z.object({
    status: z.literal("measured"),
    current: ContextSettingsSchema,
    chosen: ContextSettingsSchema,
    /** Estimated success per execution on the executions learned from. */
    learn: z.object({ current: z.number(), chosen: z.number(), n: z.number() }),
    /** On the held-out executions: the difference chosen − current, its 95% interval, and the effective sample size. */
    holdout: z.object({ current: z.number(), chosen: z.number(), difference: z.number(), lower: z.number(), upper: z.number(), n: z.number(), ess: z.number() }),
    passed: z.boolean(),
    reason: z.string(),
  }),
]);
export type ContextPruning = z.infer<typeof ContextPruningSchema>;

/** Per-execution doubly robust values of `s`, and the importance weights' effective sample size. */
function perRow(rows: readonly ReplayRow[], s: ExecutionSettings, model: RewardModel): { values: number[]; ess: number } {
  let w = 0;
  let w2 = 0;
  const values = rows.map((r) => {
    const o = outcome(r, s, model);
    const weight = o.target / o.propensity;
    w += weight;
    w2 += weight * weight;
    return o.expected + weight * (o.reward - o.loggedExpected);
  });
  return { values, ess: w2 > 0 ? (w * w) / w2 : 0 };
}

const mean = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);

/** Mean of paired differences with a normal 95% interval. */
function paired(a: readonly number[], b: readonly number[]): { difference: number; lower: number; upper: number } {
  const d = a.map((x, i) => x - b[i]);
  const m = mean(d);
  const sd = Math.sqrt(d.reduce((s, x) => s + (x - m) ** 2, 0) / Math.max(1, d.length - 1));
  const half = (1.96 * sd) / Math.sqrt(Math.max(1, d.length));
  return { difference: m, lower: m - half, upper: m + half };
}

export async function pruneContext(db: Db, checkpoints: R2Bucket, agent: Agent, live: Version, goals: readonly Goal[], constraints: Constraints): Promise<ContextPruning> {
  const split = splitRows(await tracedRows(db, live.appId, agent.id, live.id, "maximize_success", MAX_TRACED_ROWS));
  if (split.learn.length < MIN_LOGGED_TO_LEARN || split.holdout.length < MIN_LOGGED_HOLDOUT)
    return {
      status: "not_enough_feedback",
      missing: `context pruning replays executions of version ${live.version} with feedback: it needs ${MIN_LOGGED_TO_LEARN} to choose on and ${MIN_LOGGED_HOLDOUT} held out, and has ${split.learn.length} and ${split.holdout.length}`,
    };
  const { model, ensemble } = await loadModel(checkpoints, live);
  const probsOf = (part: readonly TracedRow[]) => part.map((r) => predict(model, modelText(r.input, r.context, live.params.context_features === true), ensemble).probs);
  const base = executionSettings(live.params);
  const exploration = agent.exploration ?? NO_EXPLORATION;
  const learnAnswers = loggedAnswers(split.learn, probsOf(split.learn), model.classes, base);
  const rewards = fitRewardModel(learnAnswers);
  const learn = withPolicy(learnAnswers, rewards, exploration);
  const holdout = withPolicy(loggedAnswers(split.holdout, probsOf(split.holdout), model.classes, base), rewards, exploration);
  const value = (s: ExecutionSettings) => mean(perRow(learn, s, rewards).values);
  const currentValue = value(base);
  const grid = TUNING_GRID.memories_per_execution.flatMap((m) => TUNING_GRID.demo_min_similarity.map((d) => ({ ...base, memories_per_execution: m, demo_min_similarity: d })));
  const scored = grid.map((s) => ({ s, v: value(s) }));
  const prune = goals.includes("minimize_latency") || goals.includes("optimize_cost");
  const loss = constraints.max_accuracy_loss;
  const pick = prune
    ? scored
        .filter((x) => x.v >= currentValue - loss)
        .sort((a, b) => a.s.memories_per_execution - b.s.memories_per_execution || b.v - a.v || Math.abs(a.s.demo_min_similarity - base.demo_min_similarity) - Math.abs(b.s.demo_min_similarity - base.demo_min_similarity))[0]
    : scored.reduce((x, y) => (y.v > x.v + 1e-9 ? y : x), { s: base, v: currentValue });
  const chosen = pick ?? { s: base, v: currentValue };
  const cur = perRow(holdout, base, rewards);
  const cho = perRow(holdout, chosen.s, rewards);
  const diff = paired(cho.values, cur.values);
  const unchanged = chosen.s.memories_per_execution === base.memories_per_execution && chosen.s.demo_min_similarity === base.demo_min_similarity;
  const bar = prune ? -loss : 0;
  const passed = !unchanged && cho.ess >= MIN_GATE_ESS && diff.lower > bar;
  const fmt = (x: number) => x.toFixed(4);
  const what = `memories_per_execution ${chosen.s.memories_per_execution}, demo_min_similarity ${chosen.s.demo_min_similarity}`;
  const reason = unchanged
    ? `the current settings (memories_per_execution ${base.memories_per_execution}, demo_min_similarity ${base.demo_min_similarity}) are already the ${prune ? "leanest within max_accuracy_loss" : "best"} on the executions learned from`
    : cho.ess < MIN_GATE_ESS
      ? `${what}: the held-out executions say too little about its answers (effective sample size ${cho.ess.toFixed(1)} < ${MIN_GATE_ESS})`
      : `${what}: on ${holdout.length} held-out executions its estimated success differs from the current settings' by ${fmt(diff.difference)} (95% interval ${fmt(diff.lower)}–${fmt(diff.upper)}); ` +
        (passed ? `the lower bound is above ${fmt(bar)}` : `the lower bound is not above ${fmt(bar)}: not applied`);
  return {
    status: "measured",
    current: { memories_per_execution: base.memories_per_execution, demo_min_similarity: base.demo_min_similarity },
    chosen: { memories_per_execution: chosen.s.memories_per_execution, demo_min_similarity: chosen.s.demo_min_similarity },
    learn: { current: currentValue, chosen: chosen.v, n: learn.length },
    holdout: { current: mean(cur.values), chosen: mean(cho.values), ...diff, n: holdout.length, ess: cho.ess },
    passed,
    reason,
  };
}
