/**
 * The vector change log (vector_changes): every write to an agent's vectors
 * appends the ids it wrote or deleted — after writing them, so whoever sees
 * an entry reads the vector in that state or a later one. D1 runs one write
 * at a time, so entries commit in `seq` order: a reader that applied every
 * entry up to `seq` has missed none below it. Entries live CHANGE_RETENTION_MS;
 * a copy that has not caught up for half that long reloads instead.
 */
import { and, asc, eq, gt, lt, sql } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import { vectorChanges } from "../../db/schema.ts";

export const CHANGE_RETENTION_MS = 24 * 3_600_000;

export interface Change {
  appId: string;
  agentId: string;
  vectorId: string;
}

/** Entries per statement: one JSON parameter of ids (well within D1's 2 MB a value). */
const CHANGES_PER_STATEMENT = 2000;

export async function recordChanges(db: Db, changes: readonly Change[], now: number): Promise<void> {
  for (let i = 0; i < changes.length; i += CHANGES_PER_STATEMENT) {
    const part = JSON.stringify(changes.slice(i, i + CHANGES_PER_STATEMENT).map((c) => [c.appId, c.agentId, c.vectorId]));
    await db.run(
      sql`INSERT INTO ${vectorChanges} (app_id, agent_id, vector_id, created_at) SELECT value->>0, value->>1, value->>2, ${now} FROM json_each(${part}) WHERE true`,
    );
  }
}

/** The agent's last change (0: none since the log began). */
export async function latestChange(db: Db, appId: string, agentId: string): Promise<number> {
  const [row] = await db
    .select({ seq: sql<number | null>`max(${vectorChanges.seq})` })
    .from(vectorChanges)
    .where(and(eq(vectorChanges.appId, appId), eq(vectorChanges.agentId, agentId)));
  return row?.seq ?? 0;
}

/** The agent's changes after `seq`, oldest first, at most `limit`. */
export async function changesSince(db: Db, appId: string, agentId: string, seq: number, limit: number): Promise<{ seq: number; vectorId: string }[]> {
  return db
    .select({ seq: vectorChanges.seq, vectorId: vectorChanges.vectorId })
    .from(vectorChanges)
    .where(and(eq(vectorChanges.appId, appId), eq(vectorChanges.agentId, agentId), gt(vectorChanges.seq, seq)))
    .orderBy(asc(vectorChanges.seq))
    .limit(limit);
}

/** Deletes entries older than the retention (the cron), a bounded number per call. */
export async function pruneChanges(db: Db, now: number, max = 50_000): Promise<number> {
  const doomed = db
    .select({ seq: vectorChanges.seq })
    .from(vectorChanges)
    .where(lt(vectorChanges.createdAt, now - CHANGE_RETENTION_MS))
    .limit(max);
  const deleted = await db.delete(vectorChanges).where(sql`${vectorChanges.seq} IN ${doomed}`).returning({ seq: vectorChanges.seq });
  return deleted.length;
}
