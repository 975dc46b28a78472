/**
 * Recording feedback: every execution named must be the app's (else 404 and
 * nothing is written); the feedback rows are written in one atomic batch (a
 * later record for an execution replaces the earlier). A correction also
 * becomes an episodic memory of the agent — a demo of the right answer,
 * marked as a correction — so that executeAgent can use it before the next
 * adaptation; its id derives from the execution, so a repeat writes nothing twice.
 */
import { and, eq, inArray, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { chunksWithinParameters } from "../db/limits.ts";
import { executions, feedback } from "../db/schema.ts";
import { notFound } from "../errors.ts";
import { createMemories, type MemoryServices, type NewMemory } from "../memory/store.ts";
import type { FeedbackItem } from "./schemas.ts";

export type Execution = typeof executions.$inferSelect;

/** The executions named, all of them the app's; throws 404 naming the first that is not. */
export async function ownExecutions(db: Db, appId: string, ids: readonly string[]): Promise<Map<string, Execution>> {
  const found = new Map<string, Execution>();
  for (const part of chunksWithinParameters([...new Set(ids)], 1, 1)) {
    const rows = await db
      .select()
      .from(executions)
      .where(and(eq(executions.appId, appId), inArray(executions.id, part)));
    for (const r of rows) found.set(r.id, r);
  }
  const missing = ids.find((id) => !found.has(id));
  if (missing) throw notFound("execution", missing);
  return found;
}

export async function recordFeedback(
  db: Db,
  memory: MemoryServices,
  appId: string,
  items: readonly FeedbackItem[],
  via: "api" | "webhook",
  now: number,
): Promise<{ recorded: number; execution_ids: string[]; corrections: number }> {
  const byExecution = await ownExecutions(
    db,
    appId,
    items.map((i) => i.execution_id),
  );
  // Corrections first (idempotent): a failure below leaves only memories a retry writes again, never half the feedback.
  const corrections: NewMemory[] = items
    .filter((i) => i.correct_output !== undefined)
    .map((i) => {
      const e = byExecution.get(i.execution_id)!;
      return {
        id: `mem_fb_${e.id.slice(4)}`,
        agentId: e.agentId,
        memoryType: "episodic",
        content: { type: "demo", correction: true, input: e.input, expected_output: i.correct_output, answered: e.output, execution_id: e.id, ...(i.comment ? { comment: i.comment } : {}) },
        importance: 70,
        confidence: 1,
        tags: ["feedback", "correction"],
        learnedFrom: e.id,
      };
    });
  if (corrections.length > 0) await createMemories(memory, appId, corrections);
  const rows = items.map((i) => {
    const e = byExecution.get(i.execution_id)!;
    return {
      appId,
      executionId: e.id,
      agentId: e.agentId,
      versionId: e.versionId,
      reward: i.reward ?? null,
      label: i.feedback ?? null,
      correctOutput: i.correct_output ?? null,
      userSatisfaction: i.user_satisfaction ?? null,
      comment: i.comment ?? null,
      via,
      createdAt: now,
    };
  });
  const statements = chunksWithinParameters(rows, 11).map((part) =>
    db
      .insert(feedback)
      .values(part)
      .onConflictDoUpdate({
        target: [feedback.appId, feedback.executionId],
        set: {
          reward: sql`excluded.reward`,
          label: sql`excluded.label`,
          correctOutput: sql`excluded.correct_output`,
          userSatisfaction: sql`excluded.user_satisfaction`,
          comment: sql`excluded.comment`,
          via: sql`excluded.via`,
          createdAt: sql`excluded.created_at`,
        },
      }),
  );
  // One batch: every record or none.
  if (statements.length > 0) await db.batch(statements as [(typeof statements)[number], ...typeof statements]);
  return { recorded: rows.length, execution_ids: rows.map((r) => r.executionId), corrections: corrections.length };
}
