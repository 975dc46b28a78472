/**
 * What an adaptation learns from, read from D1: the executions of a version
 * with their feedback, turned into rewards by the reward function; the
 * corrections (labeled examples) of an agent; and what the service measured
 * itself over them (to set beside what the app reported). Rows are split by a
 * stable hash of their input into what the run learns from and what the
 * safety gate evaluates on, so that no input is in both.
 */
import { and, desc, eq, isNotNull, ne } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { executions, feedback } from "../db/schema.ts";
import { rewardOf, satisfaction, success, type RewardFunction } from "../model/adaptation.ts";
import type { LabeledRow, LoggedRow, TracedRow } from "./rows.ts";
import { fnv1a } from "../model/hash.ts";

/** Most rows an adaptation reads (the newest are kept). */
export const MAX_ADAPTATION_ROWS = 50_000;
/** Most executions replayed (with their traces): by performance_tuning within its call, and by a run's safety gate. */
export const MAX_TRACED_ROWS = 10_000;

export type { LabeledRow, LoggedRow, TracedRow };

/** One in five inputs is held out for the safety gate (by a hash of the normalized input: stable across runs). */
export function heldOut(input: string): boolean {
  return fnv1a(input.normalize("NFKC").toLowerCase().trim(), 0x0be) % 5 === 0;
}

export function splitRows<T extends { input: string }>(rows: readonly T[]): { learn: T[]; holdout: T[] } {
  const learn: T[] = [];
  const holdout: T[] = [];
  for (const r of rows) (heldOut(r.input) ? holdout : learn).push(r);
  return { learn, holdout };
}

/** A version's executions with feedback (the newest `limit`), oldest first; `traced`: with their traces. */
/** The columns of an execution and its feedback that rewards and logged rows are made of. */
const EXECUTION_WITH_FEEDBACK = {
  input: executions.input,
  output: executions.output,
  context: executions.context,
  action: executions.action,
  propensity: executions.propensity,
  source: executions.source,
  latencyMs: executions.latencyMs,
  reward: feedback.reward,
  label: feedback.label,
  correctOutput: feedback.correctOutput,
  userSatisfaction: feedback.userSatisfaction,
};

async function withFeedback(db: Db, appId: string, agentId: string, versionId: string | null, limit = MAX_ADAPTATION_ROWS) {
  const where = [eq(executions.appId, appId), eq(executions.agentId, agentId)];
  if (versionId) where.push(eq(executions.versionId, versionId));
  return db
    .select({ ...EXECUTION_WITH_FEEDBACK, createdAt: executions.createdAt })
    .from(executions)
    .innerJoin(feedback, and(eq(feedback.appId, executions.appId), eq(feedback.executionId, executions.id)))
    .where(and(...where))
    .orderBy(desc(executions.createdAt), desc(executions.id))
    .limit(limit)
    .then((rows) => rows.reverse());
}

export interface Measured {
  executions_with_feedback: number;
  logged_with_propensity: number;
  success_rate: number | null;
  user_satisfaction: number | null;
  response_time: number | null;
  reward: number | null;
}

const meanOf = (xs: (number | null)[]) => {
  const v = xs.filter((x): x is number => x !== null);
  return v.length > 0 ? v.reduce((s, x) => s + x, 0) / v.length : null;
};

type FeedbackRow = Awaited<ReturnType<typeof withFeedback>>[number];

const signalsOf = (r: Pick<FeedbackRow, "reward" | "label" | "correctOutput" | "userSatisfaction">) => ({ reward: r.reward, label: r.label, correctOutput: r.correctOutput, userSatisfaction: r.userSatisfaction });

/** What the service measured over a version's feedback: success, satisfaction, latency and reward, as the app would report them. */
function measure(all: readonly FeedbackRow[], fn: RewardFunction, logged: number): Measured {
  return {
    executions_with_feedback: all.length,
    logged_with_propensity: logged,
    success_rate: meanOf(all.map((r) => success(signalsOf(r), r.output))),
    user_satisfaction: meanOf(all.map((r) => satisfaction(signalsOf(r), r.output))),
    response_time: meanOf(all.map((r) => r.latencyMs / 1000)),
    reward: meanOf(all.map((r) => rewardOf(fn, signalsOf(r), r.output, r.latencyMs))),
  };
}

/** The version's logged executions (a class shown, its propensity, a reward) and what the service measured over its feedback. */
export async function loggedRows(db: Db, appId: string, agentId: string, versionId: string, fn: RewardFunction): Promise<{ rows: LoggedRow[]; measured: Measured }> {
  const all = await withFeedback(db, appId, agentId, versionId);
  const rows: LoggedRow[] = [];
  for (const r of all) {
    const reward = rewardOf(fn, signalsOf(r), r.output, r.latencyMs);
    if (r.action === null || r.propensity === null || r.propensity <= 0 || reward === null) continue;
    rows.push({ input: r.input, context: r.context, action: r.action, propensity: r.propensity, reward });
  }
  return { rows, measured: measure(all, fn, rows.length) };
}

/**
 * Labeled examples from the agent's feedback (any version's), the newest per
 * input: corrections (feedback with correct_output: what the agent should
 * have answered), and confirmations (feedback `correct`: the answer itself). Online adaptation learns from corrections; its gate
 * judges on held-out ones of both — corrections alone are the agent's
 * mistakes, and would favour any change.
 */
export async function labeledRows(db: Db, appId: string, agentId: string): Promise<{ corrections: LabeledRow[]; confirmed: LabeledRow[] }> {
  const rows = await db
    .select({ input: executions.input, output: executions.output, label: feedback.label, correctOutput: feedback.correctOutput })
    .from(feedback)
    .innerJoin(executions, and(eq(executions.appId, feedback.appId), eq(executions.id, feedback.executionId)))
    .where(and(eq(feedback.appId, appId), eq(feedback.agentId, agentId)))
    .orderBy(desc(feedback.createdAt), desc(feedback.executionId))
    .limit(MAX_ADAPTATION_ROWS);
  rows.reverse();
  const corrections = new Map<string, string>();
  const confirmed = new Map<string, string>();
  for (const r of rows) {
    if (r.correctOutput) {
      corrections.set(r.input, r.correctOutput);
      confirmed.delete(r.input);
    } else if (r.label === "correct") {
      confirmed.set(r.input, r.output);
    }
  }
  for (const input of corrections.keys()) confirmed.delete(input);
  const list = (m: Map<string, string>) => [...m.entries()].map(([input, expected_output]) => ({ input, expected_output }));
  return { corrections: list(corrections), confirmed: list(confirmed) };
}

/**
 * The version's executions with feedback and a trace (the newest `limit`),
 * rewarded by `fn`. Answers a language model wrote are left out — a replay of
 * the local decision (memories, network, demos) cannot say what the model
 * would have answered instead — unless `withLanguageModel` (a hybrid
 * version's, whose replay estimates the model's answers by their mean reward).
 */
export async function tracedRows(db: Db, appId: string, agentId: string, versionId: string, fn: RewardFunction, limit: number, withLanguageModel = false): Promise<TracedRow[]> {
  const rows = await db
    .select({ ...EXECUTION_WITH_FEEDBACK, trace: executions.trace })
    .from(executions)
    .innerJoin(feedback, and(eq(feedback.appId, executions.appId), eq(feedback.executionId, executions.id)))
    .where(and(eq(executions.appId, appId), eq(executions.agentId, agentId), eq(executions.versionId, versionId), isNotNull(executions.trace), withLanguageModel ? undefined : ne(executions.source, "llm")))
    .orderBy(desc(executions.createdAt), desc(executions.id))
    .limit(limit);
  rows.reverse();
  const out: TracedRow[] = [];
  for (const r of rows) {
    const reward = rewardOf(fn, signalsOf(r), r.output, r.latencyMs);
    if (reward === null || r.trace === null) continue;
    out.push({ input: r.input, context: r.context, output: r.output, source: r.source, action: r.action, propensity: r.propensity, trace: r.trace, reward });
  }
  return out;
}
