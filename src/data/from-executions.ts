/**
 * A dataset from user interactions: an agent's executions in a time window,
 * labeled by their feedback — a correction's correct output; the answer
 * itself when the feedback says it was right (correct, helpful, a positive
 * reward); nothing when it says it was wrong without a correction (the right
 * answer is unknown). Without only_with_feedback, executions nobody judged
 * count with the answer they got. Fallback answers are never labels.
 */
import { and, desc, eq, gte, lte } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { executions, feedback } from "../db/schema.ts";
import { DATA_LIMITS, type Example } from "./examples.ts";

export interface FromExecutions {
  agent_id: string;
  from: number | null;
  to: number | null;
  only_with_feedback: boolean;
  executions: number;
  corrected: number;
  confirmed: number;
  unjudged: number;
  skipped: { wrong_without_correction: number; fallback: number };
}

export async function examplesFromExecutions(db: Db, appId: string, agentId: string, opts: { from?: number; to?: number; onlyWithFeedback: boolean }): Promise<{ examples: Example[]; lineage: FromExecutions }> {
  const rows = await db
    .select({ input: executions.input, output: executions.output, fallback: executions.fallback, label: feedback.label, reward: feedback.reward, correct: feedback.correctOutput })
    .from(executions)
    .leftJoin(feedback, and(eq(feedback.appId, executions.appId), eq(feedback.executionId, executions.id)))
    .where(
      and(
        eq(executions.appId, appId),
        eq(executions.agentId, agentId),
        opts.from !== undefined ? gte(executions.createdAt, opts.from) : undefined,
        opts.to !== undefined ? lte(executions.createdAt, opts.to) : undefined,
      ),
    )
    .orderBy(desc(executions.createdAt))
    .limit(DATA_LIMITS.maxExamples);
  const lineage: FromExecutions = {
    agent_id: agentId,
    from: opts.from ?? null,
    to: opts.to ?? null,
    only_with_feedback: opts.onlyWithFeedback,
    executions: rows.length,
    corrected: 0,
    confirmed: 0,
    unjudged: 0,
    skipped: { wrong_without_correction: 0, fallback: 0 },
  };
  const examples: Example[] = [];
  for (const r of rows.reverse()) {
    if (r.correct) {
      lineage.corrected++;
      examples.push({ input: r.input, expected_output: r.correct });
      continue;
    }
    const judged = r.label !== null || r.reward !== null;
    const right = r.label === "correct" || r.label === "helpful" || (r.label === null && r.reward !== null && r.reward > 0);
    if (judged && !right) {
      lineage.skipped.wrong_without_correction++;
      continue;
    }
    if (!judged && opts.onlyWithFeedback) continue;
    if (r.fallback) {
      lineage.skipped.fallback++;
      continue;
    }
    if (judged) lineage.confirmed++;
    else lineage.unjudged++;
    examples.push({ input: r.input, expected_output: r.output });
  }
  return { examples, lineage };
}
