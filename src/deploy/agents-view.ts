/** The public list of an app's agents: each with its live version, its candidates and the traffic split it runs. */
import { and, asc, count, eq, gt, max } from "drizzle-orm";
import { alias } from "drizzle-orm/sqlite-core";
import { z } from "zod";
import type { Db } from "../db/client.ts";
import { agents, agentVersions, TRAFFIC_SPLIT_KINDS, trafficSplits } from "../db/schema.ts";

export const AgentSummarySchema = z.object({
  agent_id: z.string(),
  live_version: z.number().int().nullable().describe("The version executeAgent answers with; null before the first one"),
  latest_version: z.number().int().nullable(),
  versions: z.number().int(),
  candidates: z.number().int().describe("Versions that are not live (waiting for promotion, a rollout or an experiment, or earlier ones)"),
  traffic_split: z
    .object({ id: z.string(), kind: z.enum(TRAFFIC_SPLIT_KINDS), treatment_version: z.number().int(), share: z.number() })
    .nullable()
    .describe("The active rollout or experiment, if any"),
  created_at: z.string(),
  updated_at: z.string(),
});
export type AgentSummary = z.output<typeof AgentSummarySchema>;

/** The app's agents in id order, after `after` (paging); one query. */
export async function agentSummaries(db: Db, appId: string, limit: number, after?: string): Promise<AgentSummary[]> {
  const live = alias(agentVersions, "live");
  const treatment = alias(agentVersions, "treatment");
  const counts = db
    .select({ agentId: agentVersions.agentId, n: count().as("n"), latest: max(agentVersions.version).as("latest") })
    .from(agentVersions)
    .where(eq(agentVersions.appId, appId))
    .groupBy(agentVersions.agentId)
    .as("counts");
  const rows = await db
    .select({
      agent: agents,
      live: live.version,
      versions: counts.n,
      latest: counts.latest,
      split: { id: trafficSplits.id, kind: trafficSplits.kind, share: trafficSplits.share },
      treatment: treatment.version,
    })
    .from(agents)
    .leftJoin(live, and(eq(live.appId, agents.appId), eq(live.id, agents.activeVersionId)))
    .leftJoin(counts, eq(counts.agentId, agents.id))
    .leftJoin(trafficSplits, and(eq(trafficSplits.appId, agents.appId), eq(trafficSplits.agentId, agents.id), eq(trafficSplits.status, "active")))
    .leftJoin(treatment, and(eq(treatment.appId, agents.appId), eq(treatment.id, trafficSplits.treatmentVersionId)))
    .where(and(eq(agents.appId, appId), after !== undefined ? gt(agents.id, after) : undefined))
    .orderBy(asc(agents.id))
    .limit(limit);
  return rows.map((r) => {
    const versions = r.versions ?? 0;
    return {
      agent_id: r.agent.id,
      live_version: r.live ?? null,
      latest_version: r.latest ?? null,
      versions,
      candidates: versions - (r.live === null ? 0 : 1),
      traffic_split: r.split && r.split.id !== null ? { id: r.split.id, kind: r.split.kind, treatment_version: r.treatment ?? 0, share: r.split.share } : null,
      created_at: new Date(r.agent.createdAt).toISOString(),
      updated_at: new Date(r.agent.updatedAt).toISOString(),
    };
  });
}
