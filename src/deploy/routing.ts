/**
 * Which version answers an execution while a rollout or an experiment splits
 * an agent's traffic: a sticky hash of the app's `user_id` (or, without one,
 * of the input) under the split's id, so a user keeps seeing one version for
 * the whole split, and splits randomize independently of each other. A
 * rollout's growing share keeps every user already on the new version there
 * (the hash is compared with the share, and the share only grows).
 */
import { and, eq } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { agents, piiPolicies, trafficSplits } from "../db/schema.ts";
import { notFound } from "../errors.ts";
import type { Agent } from "../agent/versions.ts";
import { fnv1a, mix32 } from "../model/hash.ts";

export type Split = typeof trafficSplits.$inferSelect;
export type Arm = "control" | "treatment";

/** A uniform number in [0, 1) for `key` under split `splitId`. */
export function stickyUnit(splitId: string, key: string): number {
  return mix32(fnv1a(key, fnv1a(splitId))) / 4294967296;
}

export function armOf(split: Pick<Split, "id" | "share">, key: string): Arm {
  return stickyUnit(split.id, key) < split.share ? "treatment" : "control";
}

/** The agent, the active rollout or experiment of its traffic if any, and its app's PII policy row, in one query (executeAgent's hot path); 404 for an unknown agent. */
export async function agentWithSplit(db: Db, appId: string, agentId: string): Promise<{ agent: Agent; split: Split | null; pii: PiiPolicyRow | null }> {
  const [row] = await db
    .select()
    .from(agents)
    .leftJoin(trafficSplits, and(eq(trafficSplits.appId, agents.appId), eq(trafficSplits.agentId, agents.id), eq(trafficSplits.status, "active")))
    .leftJoin(piiPolicies, eq(piiPolicies.appId, agents.appId))
    .where(and(eq(agents.appId, appId), eq(agents.id, agentId)))
    .limit(1);
  if (!row) throw notFound("agent", agentId);
  return { agent: row.agents, split: row.agents.activeVersionId ? row.traffic_splits : null, pii: row.pii_policies };
}

export type PiiPolicyRow = typeof piiPolicies.$inferSelect;

/** The version that answers, and the route recorded with the execution ("<split id>:<arm>"). */
export function route(split: Split, key: string): { versionId: string; route: string; arm: Arm } {
  const arm = armOf(split, key);
  return { versionId: arm === "treatment" ? split.treatmentVersionId : split.controlVersionId, route: `${split.id}:${arm}`, arm };
}
