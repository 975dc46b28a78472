/**
 * Memory upkeep on cron, idempotent and bounded per invocation:
 * - expired working memories are deleted (rows and vectors);
 * - importance of semantic and episodic memories decays with a half-life of
 *   IMPORTANCE_HALF_LIFE_DAYS, applied for the time since the last decay (so
 *   two runs at the same moment change nothing);
 * - near-duplicates (same agent, type and version, cosine ≥ MERGE_THRESHOLD)
 *   among recently changed memories are merged into the older one — highest
 *   importance and confidence, union of tags, summed access counts — but only
 *   when they mean the same: memories that name different classes or answers
 *   (`sameMeaning`) are never merged. Two such memories with one trigger are a
 *   conflict: both are kept and counted (executeAgent lets the newer answer).
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
  /** Near-identical memories that name different classes or answers, left as they are. */
  conflicts: number;
}

/** Fields that say what a memory answers or stands for: memories differing in any of them mean different things. */
const MEANING_FIELDS = ["class", "answer", "expected_output", "output", "label", "correct_output"] as const;

export function sameMeaning(a: Memory, b: Memory): boolean {
  if (a.versionId !== b.versionId || a.memoryType !== b.memoryType || a.agentId !== b.agentId) return false;
  return MEANING_FIELDS.every((f) => JSON.stringify(a.content[f] ?? null) === JSON.stringify(b.content[f] ?? null));
}

export async function upkeep(s: MemoryServices, limits: UpkeepLimits = DEFAULT_UPKEEP_LIMITS): Promise<UpkeepReport> {
  const now = s.now();
  const expired = await expire(s, now, limits.expire);
  const decayed = await decay(s, now, limits.decay);
  return { expired, decayed, ...(await merge(s, now, limits.mergeCandidates)) };
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
    .select({ appId: agentMemories.appId, id: agentMemories.id, importance: agentMemories.importance, last })
    .from(agentMemories)
    .where(and(inArray(agentMemories.memoryType, ["semantic", "episodic"]), lt(last, now - DECAY_EVERY_MS), gt(agentMemories.importance, 0)))
    .orderBy(asc(last))
    .limit(limit);
  if (rows.length === 0) return 0;
  const updates = rows.map((r) => {
    const factor = Math.pow(0.5, (now - r.last) / (IMPORTANCE_HALF_LIFE_DAYS * DAY_MS));
    return s.db.update(agentMemories).set({ importance: r.importance * factor, decayedAt: now }).where(and(eq(agentMemories.appId, r.appId), eq(agentMemories.id, r.id)));
  });
  await s.db.batch(updates as [(typeof updates)[number], ...typeof updates]);
  return rows.length;
}

async function merge(s: MemoryServices, now: number, limit: number): Promise<{ merged: number; conflicts: number }> {
  const recent = await s.db
    .select()
    .from(agentMemories)
    .where(and(gt(agentMemories.updatedAt, now - DAY_MS), or(isNull(agentMemories.expiresAt), gt(agentMemories.expiresAt, now))))
    .orderBy(desc(agentMemories.updatedAt))
    .limit(limit);
  const gone = new Set<string>();
  const conflicting = new Set<string>();
  let merged = 0;
  for (const m of recent) {
    if (gone.has(m.id)) continue;
    const [vec] = await s.index.getByIds(m.appId, [m.id]);
    if (!vec) continue;
    const matches = await s.index.query({ appId: m.appId, agentId: m.agentId, embedder: vec.embedder, vector: vec.values, topK: 4, memoryTypes: [m.memoryType], versionId: m.versionId });
    for (const twin of matches) {
      if (twin.id === m.id || gone.has(twin.id) || twin.score < MERGE_THRESHOLD || twin.versionId !== m.versionId) continue;
      const other = await s.db.query.agentMemories.findFirst({ where: and(eq(agentMemories.appId, m.appId), eq(agentMemories.id, twin.id)) });
      if (!other) continue;
      if (!sameMeaning(m, other)) {
        conflicting.add([m.id, other.id].sort().join("\u0000"));
        continue;
      }
      const otherFirst = other.createdAt < m.createdAt || (other.createdAt === m.createdAt && other.id < m.id);
      const [keep, drop] = otherFirst ? [other, m] : [m, other];
      await fold(s, keep, drop, now);
      gone.add(drop.id);
      merged++;
      break;
    }
  }
  return { merged, conflicts: conflicting.size };
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
    .where(and(eq(agentMemories.appId, keep.appId), eq(agentMemories.id, keep.id)));
  await deleteMemories(s, drop.appId, [drop.id]);
}
