/**
 * Cron: removes what runs left behind, a bounded amount per invocation.
 *
 * - Learned memories (and vectors) of a version that does not exist, written
 *   by a run that is no longer active (its final step lost the run to a
 *   cancel or a failure): at once. They were never visible; a resumed run's
 *   final step writes them again.
 * - Checkpoints of runs that ended (after success the final step deletes them
 *   itself; a crash may leave some) and the version object of runs that did
 *   not succeed: RUN_RETENTION_DAYS after the run ended, since until then a
 *   failed or cancelled run can be resumed from them. The run is then marked
 *   swept and can no longer be resumed.
 */
import { and, asc, eq, inArray, isNotNull, isNull, lt, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { agentMemories, memoryVectors, trainingRuns } from "../db/schema.ts";
import { deleteMemories, type MemoryServices } from "../memory/store.ts";
import { keys } from "../storage/keys.ts";
import { deletePrefix } from "../storage/objects.ts";
import { ACTIVE, markSwept, versionIdOf } from "./runs.ts";

export const DEFAULT_RUN_RETENTION_DAYS = 7;

export interface SweepLimits {
  memories: number;
  runs: number;
}

const DEFAULT_SWEEP_LIMITS: SweepLimits = { memories: 500, runs: 20 };

export interface SweepReport {
  memories: number;
  runs: number;
}

/** `(app_id, version_id)` of a learned row whose version does not exist and whose run is no longer active. */
function orphaned(table: typeof agentMemories | typeof memoryVectors) {
  return and(
    isNotNull(table.versionId),
    sql`NOT EXISTS (SELECT 1 FROM agent_versions v WHERE v.app_id = ${table.appId} AND v.id = ${table.versionId})`,
    sql`NOT EXISTS (SELECT 1 FROM training_runs r WHERE r.app_id = ${table.appId} AND r.id = 'run_' || substr(${table.versionId}, 5) AND r.status IN ('queued', 'running'))`,
  );
}

export async function sweepRuns(
  deps: { db: Db; checkpoints: R2Bucket; memory: MemoryServices; now: () => number },
  retentionMs: number,
  limits: SweepLimits = DEFAULT_SWEEP_LIMITS,
): Promise<SweepReport> {
  const now = deps.now();
  // Leftover memories, and vectors whose memory row was never written.
  const rows = await deps.db.select({ appId: agentMemories.appId, id: agentMemories.id }).from(agentMemories).where(orphaned(agentMemories)).limit(limits.memories);
  const vectors = await deps.db.select({ appId: memoryVectors.appId, id: memoryVectors.id }).from(memoryVectors).where(orphaned(memoryVectors)).limit(limits.memories);
  const byApp = new Map<string, Set<string>>();
  for (const r of [...rows, ...vectors]) byApp.set(r.appId, (byApp.get(r.appId) ?? new Set()).add(r.id));
  let memories = 0;
  for (const [appId, ids] of byApp) {
    await deleteMemories(deps.memory, appId, [...ids]);
    memories += ids.size;
  }

  const ended = await deps.db
    .select()
    .from(trainingRuns)
    .where(and(isNull(trainingRuns.sweptAt), inArray(trainingRuns.status, ["succeeded", "failed", "cancelled"]), lt(trainingRuns.finishedAt, now - retentionMs)))
    .orderBy(asc(trainingRuns.finishedAt))
    .limit(limits.runs);
  for (const run of ended) {
    await deletePrefix(deps.checkpoints, keys.runPrefix(run.appId, run.id));
    if (run.status !== "succeeded") await deps.checkpoints.delete(keys.versionModel(run.appId, run.agentId, versionIdOf(run.id)));
    // Still ended (a resume in between would have made it active again)?
    const still = await deps.db.select({ status: trainingRuns.status }).from(trainingRuns).where(eq(trainingRuns.id, run.id));
    if (still[0] && !ACTIVE.includes(still[0].status)) await markSwept(deps.db, run.id, now);
  }
  return { memories, runs: ended.length };
}
