/**
 * What a transfer carries of its base's memory: the demos of the base
 * version whose class the new version keeps, as demos of the new version
 * (within the demo budget, after the run's own). Ids derive from the run and
 * the base memory, so a redone final step writes nothing twice.
 */
import { and, eq, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { agentMemories } from "../db/schema.ts";
import type { NewMemory } from "./store.ts";

export async function carriedDemos(
  db: Db,
  appId: string,
  base: { agent_id: string; version_id: string },
  classes: readonly string[],
  room: number,
  target: { runId: string; agentId: string; versionId: string },
): Promise<NewMemory[]> {
  if (room <= 0) return [];
  const keep = new Set(classes);
  const rows = await db
    .select({ id: agentMemories.id, content: agentMemories.content })
    .from(agentMemories)
    .where(
      and(
        eq(agentMemories.appId, appId),
        eq(agentMemories.agentId, base.agent_id),
        eq(agentMemories.versionId, base.version_id),
        eq(agentMemories.memoryType, "episodic"),
        sql`json_extract(${agentMemories.content}, '$.type') = 'demo'`,
      ),
    )
    .orderBy(agentMemories.id);
  const tag = target.runId.slice(4);
  return rows
    .filter((r) => typeof r.content.expected_output === "string" && keep.has(r.content.expected_output))
    .slice(0, room)
    .map((r) => ({
      id: `mem_${tag}_t${r.id.slice(4)}`,
      agentId: target.agentId,
      versionId: target.versionId,
      memoryType: "episodic" as const,
      content: { ...r.content, carried_from: base.version_id },
      importance: 40,
      confidence: 1,
      tags: ["demo", "transferred"],
      learnedFrom: target.runId,
    }));
}
