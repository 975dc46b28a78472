/**
 * Moving an agent's memories to the configured embedder (e.g. from the
 * lexical `local-hash-384` to the semantic default): every memory of the
 * agent is embedded again. Its old vectors go first (an agent's vectors come
 * from one embedder), then the new ones chunk by chunk; until then a memory
 * without a vector is simply not found. Interrupted, it is run again: it
 * always re-embeds everything, so a second run completes the first.
 */
import { and, asc, eq, gt } from "drizzle-orm";
import { agentMemories } from "../db/schema.ts";
import { memoryText } from "./scoring.ts";
import type { MemoryServices } from "./store.ts";

/** Memories embedded and written per round. */
const CHUNK = 500;

export interface ReembedResult {
  agent_id: string;
  from: string | null;
  to: string;
  memories: number;
}

export async function reembedAgent(s: MemoryServices, appId: string, agentId: string): Promise<ReembedResult> {
  const before = await s.index.embedderOf(appId, agentId);
  const rows: { id: string; memoryType: (typeof agentMemories.$inferSelect)["memoryType"]; versionId: string | null; content: Record<string, unknown> }[] = [];
  let after = "";
  for (;;) {
    const page = await s.db
      .select({ id: agentMemories.id, memoryType: agentMemories.memoryType, versionId: agentMemories.versionId, content: agentMemories.content })
      .from(agentMemories)
      .where(and(eq(agentMemories.appId, appId), eq(agentMemories.agentId, agentId), gt(agentMemories.id, after)))
      .orderBy(asc(agentMemories.id))
      .limit(CHUNK);
    rows.push(...page);
    if (page.length < CHUNK) break;
    after = page[page.length - 1].id;
  }
  for (let i = 0; i < rows.length; i += CHUNK) await s.index.deleteByIds(appId, rows.slice(i, i + CHUNK).map((r) => r.id));
  for (let i = 0; i < rows.length; i += CHUNK) {
    const part = rows.slice(i, i + CHUNK);
    const vectors = await s.embedder.embed(part.map((r) => memoryText(r.content)));
    await s.index.upsert(part.map((r, k) => ({ id: r.id, appId, agentId, memoryType: r.memoryType, versionId: r.versionId, embedder: s.embedder.name, values: vectors[k] })));
  }
  return { agent_id: agentId, from: before?.embedder ?? null, to: s.embedder.name, memories: rows.length };
}
