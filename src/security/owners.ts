/** The agents resources belong to, for keys that reach only some agents. */
import { and, eq, inArray } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { chunksWithinParameters } from "../db/limits.ts";
import { adaptations, agentMemories, evaluations, executions, optimizations, trafficSplits, trainingRuns } from "../db/schema.ts";

const TABLES = {
  run: trainingRuns,
  adaptation: adaptations,
  evaluation: evaluations,
  optimization: optimizations,
  split: trafficSplits,
  execution: executions,
  memory: agentMemories,
} as const;

export type OwnedKind = keyof typeof TABLES;

/** The agent owning each of `ids` that the app has (unknown ids are absent from the map). */
export async function agentsOwning(db: Db, appId: string, kind: OwnedKind, ids: readonly string[]): Promise<Map<string, string>> {
  const t = TABLES[kind];
  const owners = new Map<string, string>();
  for (const chunk of chunksWithinParameters([...new Set(ids)], 1, 1)) {
    const rows = await db
      .select({ id: t.id, agentId: t.agentId })
      .from(t)
      .where(and(eq(t.appId, appId), inArray(t.id, chunk)));
    for (const r of rows) owners.set(r.id, r.agentId);
  }
  return owners;
}
