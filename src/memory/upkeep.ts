/**
 * Memory upkeep on cron, idempotent and bounded per invocation:
 * - expired working memories are deleted (rows and vectors);
 * - importance of semantic and episodic memories decays with a half-life of
 *   IMPORTANCE_HALF_LIFE_DAYS, applied for the time since the last decay (so
 *   two runs at the same moment change nothing);
 * - near-duplicates (same agent and type, cosine ≥ MERGE_THRESHOLD) among
 *   recently changed memories are merged into the older one: highest
 *   importance and confidence, union of tags, summed access counts.
 */
import { and, asc, desc, eq, gt, inArray, isNull, lt, or, sql } from "drizzle-orm";
import { agentMemories } from "../db/schema.ts";
import { deleteMemories, expiredWorkingMemories, type Memory, type MemoryServices } from "./store.ts";

export const IMPORTANCE_HALF_LIFE_DAYS = 60;
export const MERGE_THRESHOLD = 0.95;
const DECAY_EVERY_MS = 3_600_000;
const DAY_MS = 86_400_000;

export interface UpkeepLimits {
  expire: number;
  decay: number;
  mergeCandidates: number;
}

const DEFAULT_UPKEEP_LIMITS: UpkeepLimits = { expire: 500, decay: 500, mergeCandidates: 50 };

export interface UpkeepReport {
  expired: number;
  decayed: number;
  merged: number;
}

export async function upkeep(s: MemoryServices, limits: UpkeepLimits = DEFAULT_UPKEEP_LIMITS): Promise<UpkeepReport> {
  const now = s.now();
  return { expired: await expire(s, now, limits.expire), decayed: await decay(s, now, limits.decay), merged: await merge(s, now, limits.mergeCandidates) };
}

async function expire(s: MemoryServices, now: number, limit: number): Promise<number> {
  const rows = await expiredWorkingMemories(s, now, limit);
  const byApp = new Map<string, string[]>();
  for (const r of rows) byApp.set(r.appId, [...(byApp.get(r.appId) ?? []), r.id]);
  for (const [appId, ids] of byApp) await deleteMemories(s, appId, ids);
  return rows.length;
}

async function decay(s: MemoryServices, now: number, limit: number): Promise<number> {
  const last = sql<number>`coalesce(${agentMemories.decayedAt}, ${agentMemories.createdAt})`;
  const rows = await s.db
    .select({ id: agentMemories.id, importance: agentMemories.importance, last })
    .from(agentMemories)
    .where(and(inArray(agentMemories.memoryType, ["semantic", "episodic"]), lt(last, now - DECAY_EVERY_MS), gt(agentMemories.importance, 0)))
    .orderBy(asc(last))
    .limit(limit);
  if (rows.length === 0) return 0;
  const updates = rows.map((r) => {
    const factor = Math.pow(0.5, (now - r.last) / (IMPORTANCE_HALF_LIFE_DAYS * DAY_MS));
    return s.db.update(agentMemories).set({ importance: r.importance * factor, decayedAt: now }).where(eq(agentMemories.id, r.id));
  });
  await s.db.batch(updates as [(typeof updates)[number], ...typeof updates]);
  return rows.length;
}

async function merge(s: MemoryServices, now: number, limit: number): Promise<number> {
  const recent = await s.db
    .select()
    .from(agentMemories)
    .where(and(gt(agentMemories.updatedAt, now - DAY_MS), or(isNull(agentMemories.expiresAt), gt(agentMemories.expiresAt, now))))
    .orderBy(desc(agentMemories.updatedAt))
    .limit(limit);
  const gone = new Set<string>();
  let merged = 0;
  for (const m of recent) {
    if (gone.has(m.id)) continue;
    const [vec] = await s.index.getByIds(m.appId, [m.id]);
    if (!vec) continue;
    const matches = await s.index.query({ appId: m.appId, agentId: m.agentId, embedder: vec.embedder, vector: vec.values, topK: 3, memoryTypes: [m.memoryType] });
    const twin = matches.find((x) => x.id !== m.id && !gone.has(x.id) && x.score >= MERGE_THRESHOLD);
    if (!twin) continue;
    const other = await s.db.query.agentMemories.findFirst({ where: and(eq(agentMemories.appId, m.appId), eq(agentMemories.id, twin.id)) });
    if (!other) continue;
    const [keep, drop] = other.createdAt <= m.createdAt ? [other, m] : [m, other];
    await fold(s, keep, drop, now);
    gone.add(drop.id);
    merged++;
  }
  return merged;
}

async function fold(s: MemoryServices, keep: Memory, drop: Memory, now: number): Promise<void> {
  await s.db
    .update(agentMemories)
    .set({
      importance: Math.max(keep.importance, drop.importance),
      confidence: Math.max(keep.confidence, drop.confidence),
      tags: [...new Set([...keep.tags, ...drop.tags])],
      accessCount: keep.accessCount + drop.accessCount,
      lastAccessedAt: Math.max(keep.lastAccessedAt ?? 0, drop.lastAccessedAt ?? 0) || null,
      updatedAt: now,
    })
    .where(eq(agentMemories.id, keep.id));
  await deleteMemories(s, drop.appId, [drop.id]);
}
