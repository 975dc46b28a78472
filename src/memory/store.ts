/**
 * AgentMemory records in D1 and their vectors in the index, kept in step.
 *
 * A memory is the agent's (every version uses it) or, when training wrote it,
 * its version's (`versionId`: only that version uses it). A version's
 * memories are written before the version itself is committed, so until the
 * version exists they are invisible — to search, list and get — and the sweeper
 * (src/training/sweeper.ts) removes those of runs that never made it.
 */
import { readPolicy, scrubJson } from "../pii/policy.ts";
import { and, asc, desc, eq, exists, inArray, isNotNull, isNull, lt, or, sql, type SQL } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { jsonRowSelects, mapIterable, runBatched, runEach } from "../db/bulk.ts";
import { chunksWithinParameters } from "../db/limits.ts";
import { agentMemories, agentVersions, type MemoryType } from "../db/schema.ts";
import type { Env } from "../env.ts";
import { database } from "../db/client.ts";
import { embedderFrom, localEmbedderNamed, type Embedder } from "./embedder.ts";
import { EmbeddingMismatchError, type VectorIndex } from "./vectors/index.ts";
import { D1VectorIndex } from "./vectors/d1-index.ts";
import { VectorizeVectorIndex } from "./vectors/vectorize-index.ts";
import { memoryText, retrievalScore, TYPE_BUDGETS } from "./scoring.ts";

export type Memory = typeof agentMemories.$inferSelect;
/** A memory to create; `id` only when the caller needs a deterministic one (creation is then idempotent). */
export type NewMemory = Omit<typeof agentMemories.$inferInsert, "id" | "appId" | "createdAt" | "updatedAt" | "accessCount"> & { id?: string };

export interface MemoryServices {
  db: Db;
  index: VectorIndex;
  embedder: Embedder;
  now: () => number;
  newId: () => string;
}

export function memoryServices(env: Env, newId: () => string): MemoryServices {
  const db = database(env.DB);
  const index =
    env.VECTOR_INDEX === "vectorize" && env.VECTORIZE
      ? new VectorizeVectorIndex(env.VECTORIZE)
      : new D1VectorIndex(db, { snapshots: env.CHECKPOINTS });
  return { db, index, embedder: embedderFrom(env), now: () => Date.now(), newId };
}

/** A memory is visible when it is the agent's, or its version exists. */
function visible(db: Db): SQL {
  return or(
    isNull(agentMemories.versionId),
    exists(
      db
        .select({ one: sql`1` })
        .from(agentVersions)
        .where(and(eq(agentVersions.appId, agentMemories.appId), eq(agentVersions.id, agentMemories.versionId))),
    ),
  )!;
}

/** The rows new memories become (ids given or new, nothing accessed or decayed yet). */
export function memoryRows(appId: string, items: readonly NewMemory[], now: number, newId: () => string): Memory[] {
  return items.map((m) => ({
    id: m.id ?? newId(),
    appId,
    agentId: m.agentId,
    versionId: m.versionId ?? null,
    memoryType: m.memoryType,
    content: m.content,
    importance: m.importance,
    confidence: m.confidence,
    tags: m.tags,
    learnedFrom: m.learnedFrom ?? null,
    accessCount: 0,
    lastAccessedAt: null,
    expiresAt: m.expiresAt ?? null,
    decayedAt: null,
    createdAt: now,
    updatedAt: now,
  }));
}

/**
 * The embedder of an agent's new memories: the one its vectors came from when
 * that is a local one (an agent embedded before the default changed keeps
 * working until reembedAgentMemories moves it), else the configured one (a
 * mismatch is then a 409 naming both).
 */
export async function embedderFor(s: MemoryServices, appId: string, agentId: string): Promise<Embedder> {
  const stored = await s.index.embedderOf(appId, agentId);
  if (!stored || stored.embedder === s.embedder.name) return s.embedder;
  return localEmbedderNamed(stored.embedder) ?? s.embedder;
}

/** Inserts memories (any number) and indexes their embeddings. A memory whose id exists is left as it is. */
export async function createMemories(s: MemoryServices, appId: string, items: NewMemory[]): Promise<Memory[]> {
  // The app's PII policy, when it covers memories: nothing it detects is embedded or stored.
  const scrubber = await readPolicy(s.db, appId);
  if (scrubber?.policy.apply_to.memories) items = await Promise.all(items.map(async (m) => ({ ...m, content: (await scrubJson(scrubber, m.content)).value })));
  const rows = memoryRows(appId, items, s.now(), s.newId);
  // Vectors first: a memory row never exists without its vector (an orphan vector is never returned).
  for (const agentId of new Set(rows.map((r) => r.agentId))) {
    const mine = rows.filter((r) => r.agentId === agentId);
    const embedder = await embedderFor(s, appId, agentId);
    const vectors = await embedder.embed(mine.map((r) => memoryText(r.content)));
    await s.index.upsert(mine.map((r, i) => ({ id: r.id, appId, agentId, memoryType: r.memoryType, versionId: r.versionId, embedder: embedder.name, values: vectors[i] })));
  }
  await runEach(mapIterable(jsonRowSelects(agentMemories, rows), (select) => s.db.insert(agentMemories).select(select).onConflictDoNothing()));
  return rows;
}

export async function getMemory(s: MemoryServices, appId: string, id: string): Promise<Memory | undefined> {
  // A plain select: the relational API aliases the table, which the correlated `visible` condition cannot name.
  const [row] = await s.db
    .select()
    .from(agentMemories)
    .where(and(eq(agentMemories.appId, appId), eq(agentMemories.id, id), visible(s.db)))
    .limit(1);
  return row;
}

export async function updateMemory(s: MemoryServices, current: Memory, patch: Partial<Pick<Memory, "content" | "importance" | "confidence" | "tags" | "memoryType" | "learnedFrom" | "expiresAt">>): Promise<Memory> {
  if (patch.content !== undefined) {
    const scrubber = await readPolicy(s.db, current.appId);
    if (scrubber?.policy.apply_to.memories) patch = { ...patch, content: (await scrubJson(scrubber, patch.content)).value };
  }
  const next = { ...current, ...patch, updatedAt: s.now() };
  if (patch.content !== undefined || patch.memoryType !== undefined) {
    const embedder = await embedderFor(s, next.appId, next.agentId);
    const [values] = await embedder.embed([memoryText(next.content)]);
    await s.index.upsert([{ id: next.id, appId: next.appId, agentId: next.agentId, memoryType: next.memoryType, versionId: next.versionId, embedder: embedder.name, values }]);
  }
  const { id, appId, ...rest } = next;
  await s.db.update(agentMemories).set(rest).where(and(eq(agentMemories.appId, appId), eq(agentMemories.id, id)));
  return next;
}

export async function deleteMemories(s: MemoryServices, appId: string, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await s.index.deleteByIds(appId, ids);
  const statements = chunksWithinParameters(ids, 1, 1).map((part) => s.db.delete(agentMemories).where(and(eq(agentMemories.appId, appId), inArray(agentMemories.id, part))));
  await runBatched(s.db, statements);
}

export interface MemoryFilter {
  agent_id?: string;
  memory_type?: MemoryType;
  learned_from?: string;
  version_id?: string;
  /** The memory's tags contain this tag. */
  tags?: string;
}

export const SORT_FIELDS = { created_date: agentMemories.createdAt, updated_date: agentMemories.updatedAt, importance: agentMemories.importance, access_count: agentMemories.accessCount, confidence: agentMemories.confidence } as const;
export type SortField = keyof typeof SORT_FIELDS;

export async function listMemories(s: MemoryServices, appId: string, filter: MemoryFilter, sort: { field: SortField; desc: boolean }, limit: number, skip: number): Promise<Memory[]> {
  const where: SQL[] = [eq(agentMemories.appId, appId), visible(s.db)];
  if (filter.agent_id !== undefined) where.push(eq(agentMemories.agentId, filter.agent_id));
  if (filter.memory_type !== undefined) where.push(eq(agentMemories.memoryType, filter.memory_type));
  if (filter.learned_from !== undefined) where.push(eq(agentMemories.learnedFrom, filter.learned_from));
  if (filter.version_id !== undefined) where.push(eq(agentMemories.versionId, filter.version_id));
  if (filter.tags !== undefined) where.push(sql`EXISTS (SELECT 1 FROM json_each(${agentMemories.tags}) WHERE value = ${filter.tags})`);
  const col = SORT_FIELDS[sort.field];
  return s.db
    .select()
    .from(agentMemories)
    .where(and(...where))
    .orderBy(sort.desc ? desc(col) : asc(col), asc(agentMemories.id))
    .limit(limit)
    .offset(skip);
}

export interface SearchRequest {
  agentId: string;
  query: string;
  topK: number;
  /** The version searching: it sees the agent's memories and its own (null: the agent's only). */
  versionId: string | null;
  memoryTypes?: MemoryType[];
  minScore?: number;
}

export interface SearchHit {
  memory: Memory;
  /** Cosine similarity, calibrated per embedder (Embedder.calibrate). */
  similarity: number;
  score: number;
}

/** Candidates asked of the index per result wanted (importance and recency may reorder them), and at most. */
const CANDIDATES_PER_RESULT = 4;
const MAX_CANDIDATES = 200;

/** Memories by id (any number), keyed by id. */
async function memoriesById(s: MemoryServices, appId: string, ids: string[]): Promise<Map<string, Memory>> {
  const byId = new Map<string, Memory>();
  for (const part of chunksWithinParameters(ids, 1, 1)) {
    const rows = await s.db
      .select()
      .from(agentMemories)
      .where(and(eq(agentMemories.appId, appId), inArray(agentMemories.id, part)));
    for (const r of rows) byId.set(r.id, r);
  }
  return byId;
}

/** Similarity search combined with importance and recency (see scoring.ts); records the accesses. */
export async function searchMemories(s: MemoryServices, appId: string, req: SearchRequest): Promise<SearchHit[]> {
  const now = s.now();
  const ask = async (e: Embedder) => {
    const [vector] = await e.embed([req.query]);
    return s.index.query({ appId, agentId: req.agentId, embedder: e.name, vector, topK: Math.min(MAX_CANDIDATES, req.topK * CANDIDATES_PER_RESULT), memoryTypes: req.memoryTypes, versionId: req.versionId });
  };
  // The configured embedder first (no lookup on the hot path); an agent whose vectors
  // came from another local embedder is answered with that one (as embedderFor chooses for writes).
  let embedder = s.embedder;
  let candidates: Awaited<ReturnType<typeof ask>>;
  try {
    candidates = await ask(embedder);
  } catch (e) {
    const stored = e instanceof EmbeddingMismatchError && e.stored ? localEmbedderNamed(e.stored.embedder) : null;
    if (!stored) throw e;
    embedder = stored;
    candidates = await ask(embedder);
  }
  if (candidates.length === 0) return [];
  const byId = await memoriesById(
    s,
    appId,
    candidates.map((c) => c.id),
  );
  const used: Partial<Record<MemoryType, number>> = {};
  const hits: SearchHit[] = [];
  const scored: SearchHit[] = [];
  for (const c of candidates) {
    const m = byId.get(c.id);
    if (!m || (m.expiresAt !== null && m.expiresAt <= now)) continue;
    // On the embedder's calibrated scale: the decision thresholds mean the same whichever embedder the agent has.
    const similarity = embedder.calibrate ? embedder.calibrate(c.score) : c.score;
    scored.push({ memory: m, similarity, score: retrievalScore(similarity, m.importance, Math.max(m.updatedAt, m.lastAccessedAt ?? 0), now) });
  }
  scored.sort((a, b) => b.score - a.score);
  for (const h of scored) {
    if (hits.length >= req.topK) break;
    if (req.minScore !== undefined && h.score < req.minScore) continue;
    const t = h.memory.memoryType;
    if ((used[t] ?? 0) >= TYPE_BUDGETS[t]) continue;
    used[t] = (used[t] ?? 0) + 1;
    hits.push(h);
  }
  const statements = chunksWithinParameters(
    hits.map((h) => h.memory.id),
    1,
    3,
  ).map((part) =>
    s.db
      .update(agentMemories)
      .set({ accessCount: sql`${agentMemories.accessCount} + 1`, lastAccessedAt: now })
      .where(and(eq(agentMemories.appId, appId), inArray(agentMemories.id, part))),
  );
  await runBatched(s.db, statements);
  return hits;
}

export async function expiredWorkingMemories(s: MemoryServices, now: number, limit: number): Promise<Memory[]> {
  return s.db.select().from(agentMemories).where(and(isNotNull(agentMemories.expiresAt), lt(agentMemories.expiresAt, now))).limit(limit);
}
