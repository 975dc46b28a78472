/**
 * Changes of an agent's live version. Each one is a row of `deployments`
 * (who, how, why) written in the same atomic batch as the change itself, so
 * the history never disagrees with the agent. `liveChange` gives both
 * statements for a batch: the record is inserted first, from the agent's row
 * as it is before the change and only if the change applies, then any active
 * rollout or experiment of the agent is stopped, then the agent is updated
 * under the same conditions.
 */
import { and, desc, eq, exists, isNull, ne, sql, type SQL } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Db } from "../db/client.ts";
import { agents, deployments, DEPLOY_ACTIONS, trafficSplits } from "../db/schema.ts";

export type DeployAction = (typeof DEPLOY_ACTIONS)[number];

export interface LiveChange {
  appId: string;
  agentId: string;
  toVersionId: string;
  action: DeployAction;
  actor: string;
  reason: string;
  /** The deployment record's id (deterministic where the change may be redone). */
  recordId: string;
  now: number;
  /** Only while this version is live (an adaptation's base; a rollout's control). */
  whileLive?: string;
  /** Only when the agent has no live version yet (a candidate from training). */
  onlyIfNone?: boolean;
  /** More conditions that must hold (e.g. the run is still at its previous step). */
  when?: SQL;
}

const bind = <T>(value: T, name: string) => sql<T>`${value}`.as(name);

/** The record and the update of a live-version change, for one batch; nothing happens when a condition fails or the version is already live. */
export function liveChange(db: Db, c: LiveChange): [BatchItem<"sqlite">, BatchItem<"sqlite">, BatchItem<"sqlite">] {
  const where = and(
    eq(agents.appId, c.appId),
    eq(agents.id, c.agentId),
    sql`${agents.activeVersionId} IS NOT ${c.toVersionId}`,
    c.whileLive ? eq(agents.activeVersionId, c.whileLive) : undefined,
    c.onlyIfNone ? isNull(agents.activeVersionId) : undefined,
    c.when,
  );
  const record = db
    .insert(deployments)
    .select(
      db
        .select({
          id: bind(c.recordId, "id"),
          appId: agents.appId,
          agentId: agents.id,
          fromVersionId: agents.activeVersionId,
          toVersionId: bind(c.toVersionId, "to_version_id"),
          action: bind(c.action, "action"),
          actor: bind(c.actor, "actor"),
          reason: bind(c.reason, "reason"),
          createdAt: bind(c.now, "created_at"),
        })
        .from(agents)
        .where(where),
    )
    .onConflictDoNothing();
  // A rollout or experiment splits the traffic of the version that was live: it ends with that version's reign.
  const stopSplits = db
    .update(trafficSplits)
    .set({ status: "stopped", share: 0, updatedAt: c.now })
    .where(and(eq(trafficSplits.appId, c.appId), eq(trafficSplits.agentId, c.agentId), eq(trafficSplits.status, "active"), exists(db.select({ one: sql`1` }).from(agents).where(where))));
  const update = db.update(agents).set({ activeVersionId: c.toVersionId, updatedAt: c.now }).where(where);
  return [record, stopSplits, update];
}

/** Applies a change; true when it took place. */
export async function changeLive(db: Db, c: LiveChange): Promise<boolean> {
  const [, , updated] = await db.batch(liveChange(db, c));
  return updated.meta.changes > 0;
}

export type Deployment = typeof deployments.$inferSelect;

/** The agent's deployments, newest first. */
export function deploymentHistory(db: Db, appId: string, agentId: string, limit = 50): Promise<Deployment[]> {
  return db.select().from(deployments).where(and(eq(deployments.appId, appId), eq(deployments.agentId, agentId))).orderBy(desc(deployments.createdAt), desc(deployments.id)).limit(limit);
}

/** The version that was live before `current` last went live (what a rollback returns to), or null. */
export async function previousLive(db: Db, appId: string, agentId: string, current: string): Promise<string | null> {
  const [row] = await db
    .select({ from: deployments.fromVersionId })
    .from(deployments)
    .where(and(eq(deployments.appId, appId), eq(deployments.agentId, agentId), eq(deployments.toVersionId, current), ne(sql`coalesce(${deployments.fromVersionId}, '')`, current)))
    .orderBy(desc(deployments.createdAt), desc(deployments.id))
    .limit(1);
  return row?.from ?? null;
}
