/**
 * The vector index behind memory search: one interface, two implementations.
 * `D1VectorIndex` (default; local and tests) keeps Float32 blobs in D1 and
 * answers with exact cosine top-k over an agent's vectors, which the isolate
 * keeps in memory while the agent's generation in D1 is unchanged (every
 * write bumps it); `VectorizeIndex` uses Cloudflare Vectorize
 * with the same metadata filter (app, agent, memory type). VECTOR_INDEX=vectorize
 * selects the latter.
 */
import { and, eq, inArray, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { jsonRowSelects, runBatched } from "../db/bulk.ts";
import { memoryVectors, vectorGenerations, type MemoryType } from "../db/schema.ts";

export interface VectorRecord {
  id: string;
  appId: string;
  agentId: string;
  memoryType: MemoryType;
  embedder: string;
  values: Float32Array;
}

export interface VectorQuery {
  appId: string;
  agentId: string;
  embedder: string;
  vector: Float32Array;
  topK: number;
  memoryTypes?: readonly MemoryType[];
}

export interface VectorMatch {
  id: string;
  memoryType: MemoryType;
  /** Cosine similarity. */
  score: number;
}

export interface VectorIndex {
  upsert(records: VectorRecord[]): Promise<void>;
  query(q: VectorQuery): Promise<VectorMatch[]>;
  getByIds(appId: string, ids: string[]): Promise<VectorRecord[]>;
  deleteByIds(appId: string, ids: string[]): Promise<void>;
}

/** Vectors of one agent must come from one embedder (same name, same dimension). */
export class EmbeddingMismatchError extends Error {}

const SCAN_PAGE = 2000;

const HEX = (() => {
  const t = new Int8Array(128).fill(-1);
  for (let i = 0; i < 10; i++) t[48 + i] = i;
  for (let i = 0; i < 6; i++) t[65 + i] = t[97 + i] = 10 + i;
  return t;
})();

/** Decodes SQLite's hex(blob) text into Float32s (little-endian). */
function fromHex(hex: string, out: Float32Array): void {
  const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  for (let i = 0, j = 0; i < bytes.length; i++, j += 2) bytes[i] = (HEX[hex.charCodeAt(j)] << 4) | HEX[hex.charCodeAt(j + 1)];
}

function toBuffer(v: Float32Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function norm(a: Float32Array): number {
  return Math.sqrt(dot(a, a));
}

/** Keeps the k best matches, best first. */
class TopK {
  readonly items: VectorMatch[] = [];
  private readonly k: number;
  constructor(k: number) {
    this.k = k;
  }
  offer(m: VectorMatch): void {
    const xs = this.items;
    if (xs.length === this.k && m.score <= xs[xs.length - 1].score) return;
    let i = xs.length;
    while (i > 0 && xs[i - 1].score < m.score) i--;
    xs.splice(i, 0, m);
    if (xs.length > this.k) xs.pop();
  }
}

/** An agent's vectors held in the isolate, valid while its generation in D1 is `generation`. */
interface CachedAgent {
  generation: number;
  embedder: string;
  dim: number;
  ids: string[];
  types: MemoryType[];
  /** Row i is vectors[i·dim, (i+1)·dim). */
  vectors: Float32Array;
  norms: Float64Array;
}

/** Least recently used first, across all D1VectorIndex instances of the isolate. */
const agentCache = new Map<string, CachedAgent>();
/** Floats the cache may hold (16 MB); a larger agent is scanned from D1 on every search. */
const CACHE_FLOATS = 4_194_304;

function remember(key: string, entry: CachedAgent, limit: number): void {
  agentCache.delete(key);
  agentCache.set(key, entry);
  let total = 0;
  for (const e of agentCache.values()) total += e.vectors.length;
  for (const [k, e] of agentCache) {
    if (total <= limit || k === key) break;
    agentCache.delete(k);
    total -= e.vectors.length;
  }
}

/** A query must come from the embedder of the agent's vectors. */
function checkQuery(q: VectorQuery, vectors: { embedder: string; dim: number }): void {
  if (vectors.embedder !== q.embedder || vectors.dim !== q.vector.length) {
    throw new EmbeddingMismatchError(`agent '${q.agentId}' has vectors from ${vectors.embedder} (${vectors.dim}); the query is from ${q.embedder} (${q.vector.length})`);
  }
}

function cosineAt(q: Float32Array, qn: number, vectors: Float32Array, at: number, n: number): number {
  let s = 0;
  for (let i = 0; i < q.length; i++) s += q[i] * vectors[at + i];
  return s / (qn * (n || 1));
}

export class D1VectorIndex implements VectorIndex {
  private readonly db: Db;
  private readonly cacheFloats: number;
  /** `cacheFloats`: how much of the isolate's memory cached vectors may take (tests make it small). */
  constructor(db: Db, cacheFloats = CACHE_FLOATS) {
    this.db = db;
    this.cacheFloats = cacheFloats;
  }

  private async embedderOf(appId: string, agentId: string): Promise<{ embedder: string; dim: number } | undefined> {
    const [row] = await this.db
      .select({ embedder: memoryVectors.embedder, dim: memoryVectors.dim })
      .from(memoryVectors)
      .where(and(eq(memoryVectors.appId, appId), eq(memoryVectors.agentId, agentId)))
      .limit(1);
    return row;
  }

  private async checkEmbedder(appId: string, agentId: string, embedder: string, dim: number): Promise<void> {
    const existing = await this.embedderOf(appId, agentId);
    if (existing && (existing.embedder !== embedder || existing.dim !== dim)) {
      throw new EmbeddingMismatchError(
        `agent '${agentId}' has vectors from ${existing.embedder} (${existing.dim} dimensions); these are from ${embedder} (${dim}): re-embed its memories or keep one embedder`,
      );
    }
  }

  async upsert(records: VectorRecord[]): Promise<void> {
    const agents = new Map<string, VectorRecord>();
    for (const r of records) {
      const k = `${r.appId}\u0000${r.agentId}`;
      const first = agents.get(k);
      if (first && (first.embedder !== r.embedder || first.values.length !== r.values.length)) throw new EmbeddingMismatchError("one upsert mixes embedders for one agent");
      agents.set(k, first ?? r);
    }
    for (const r of agents.values()) await this.checkEmbedder(r.appId, r.agentId, r.embedder, r.values.length);
    const rows = records.map((r) => ({
      id: r.id,
      appId: r.appId,
      agentId: r.agentId,
      memoryType: r.memoryType,
      embedder: r.embedder,
      dim: r.values.length,
      vector: toBuffer(r.values),
    }));
    const statements = jsonRowSelects(memoryVectors, rows).map((select) =>
      this.db
        .insert(memoryVectors)
        .select(select)
        .onConflictDoUpdate({
          target: memoryVectors.id,
          set: { memoryType: sql`excluded.memory_type`, embedder: sql`excluded.embedder`, dim: sql`excluded.dim`, vector: sql`excluded.vector` },
        }),
    );
    await runBatched(this.db, statements);
    await this.bump([...agents.values()].map((r) => ({ appId: r.appId, agentId: r.agentId })));
  }

  /** After the writes (never before: a search that read the old generation may cache what it saw). */
  private async bump(agents: { appId: string; agentId: string }[]): Promise<void> {
    const statements = [];
    for (let i = 0; i < agents.length; i += 30) {
      statements.push(
        this.db
          .insert(vectorGenerations)
          .values(agents.slice(i, i + 30).map((a) => ({ ...a, generation: 1 })))
          .onConflictDoUpdate({ target: [vectorGenerations.appId, vectorGenerations.agentId], set: { generation: sql`${vectorGenerations.generation} + 1` } }),
      );
    }
    await runBatched(this.db, statements);
  }

  private async generationOf(appId: string, agentId: string): Promise<number> {
    const [row] = await this.db
      .select({ generation: vectorGenerations.generation })
      .from(vectorGenerations)
      .where(and(eq(vectorGenerations.appId, appId), eq(vectorGenerations.agentId, agentId)));
    return row?.generation ?? 0;
  }

  /**
   * Exact cosine top-k. The generation is read before the vectors: a write
   * that lands during the read bumps it afterwards, so the copy cached here
   * is never taken for newer than it is.
   */
  async query(q: VectorQuery): Promise<VectorMatch[]> {
    const key = `${q.appId}\u0000${q.agentId}`;
    const generation = await this.generationOf(q.appId, q.agentId);
    const hit = agentCache.get(key);
    const entry = hit && hit.generation === generation ? hit : await this.load(q.appId, q.agentId, generation);
    if (entry === "none" || entry === "large") {
      agentCache.delete(key);
      return entry === "none" ? [] : this.scan(q);
    }
    remember(key, entry, this.cacheFloats);
    checkQuery(q, entry);
    const types = q.memoryTypes && q.memoryTypes.length > 0 ? new Set(q.memoryTypes) : null;
    const qn = norm(q.vector) || 1;
    const top = new TopK(q.topK);
    for (let i = 0; i < entry.ids.length; i++) {
      if (types && !types.has(entry.types[i])) continue;
      top.offer({ id: entry.ids[i], memoryType: entry.types[i], score: cosineAt(q.vector, qn, entry.vectors, i * entry.dim, entry.norms[i]) });
    }
    return top.items;
  }

  /** Every vector of the agent, when they fit the cache. */
  private async load(appId: string, agentId: string, generation: number): Promise<CachedAgent | "none" | "large"> {
    const [meta] = await this.db
      .select({ embedder: sql<string | null>`min(${memoryVectors.embedder})`, dim: sql<number | null>`min(${memoryVectors.dim})`, n: sql<number>`count(*)` })
      .from(memoryVectors)
      .where(and(eq(memoryVectors.appId, appId), eq(memoryVectors.agentId, agentId)));
    if (!meta || meta.n === 0 || meta.embedder === null || meta.dim === null) return "none";
    if (meta.n * meta.dim > this.cacheFloats) return "large";
    const ids: string[] = [];
    const types: MemoryType[] = [];
    const vectors = new Float32Array(meta.n * meta.dim);
    for await (const page of this.pages(appId, agentId)) {
      for (const row of page) {
        // Rows written since the count (their generation is newer) are left to the next search.
        if (ids.length === meta.n || row.dim !== meta.dim) continue;
        fromHex(row.hex, vectors.subarray(ids.length * meta.dim, (ids.length + 1) * meta.dim));
        ids.push(row.id);
        types.push(row.memoryType);
      }
    }
    const n = ids.length;
    const norms = new Float64Array(n);
    for (let i = 0; i < n; i++) norms[i] = norm(vectors.subarray(i * meta.dim, (i + 1) * meta.dim));
    return { generation, embedder: meta.embedder, dim: meta.dim, ids, types, vectors: vectors.subarray(0, n * meta.dim), norms };
  }

  /** A search straight over D1, page by page (an agent too large for the cache). */
  private async scan(q: VectorQuery): Promise<VectorMatch[]> {
    const existing = await this.embedderOf(q.appId, q.agentId);
    if (!existing) return [];
    checkQuery(q, existing);
    const qn = norm(q.vector) || 1;
    const top = new TopK(q.topK);
    const v = new Float32Array(q.vector.length);
    for await (const page of this.pages(q.appId, q.agentId, q.memoryTypes)) {
      for (const row of page) {
        fromHex(row.hex, v);
        top.offer({ id: row.id, memoryType: row.memoryType, score: dot(q.vector, v) / (qn * (norm(v) || 1)) });
      }
    }
    return top.items;
  }

  /** The agent's vectors (of `types`, when given) from D1, page by page (keyset on rowid). */
  private async *pages(appId: string, agentId: string, types?: readonly MemoryType[]): AsyncGenerator<{ id: string; memoryType: MemoryType; dim: number; hex: string }[]> {
    let after = 0;
    for (;;) {
      const where = [eq(memoryVectors.appId, appId), eq(memoryVectors.agentId, agentId), sql`rowid > ${after}`];
      if (types && types.length > 0) where.push(inArray(memoryVectors.memoryType, [...types]));
      const page = await this.db
        .select({ rowid: sql<number>`rowid`, id: memoryVectors.id, memoryType: memoryVectors.memoryType, dim: memoryVectors.dim, hex: sql<string>`hex(${memoryVectors.vector})` })
        .from(memoryVectors)
        .where(and(...where))
        .orderBy(sql`rowid`)
        .limit(SCAN_PAGE);
      yield page;
      if (page.length < SCAN_PAGE) return;
      after = page[page.length - 1].rowid;
    }
  }

  async getByIds(appId: string, ids: string[]): Promise<VectorRecord[]> {
    if (ids.length === 0) return [];
    const out: VectorRecord[] = [];
    for (let i = 0; i < ids.length; i += 90) {
      const rows = await this.db
        .select({ id: memoryVectors.id, appId: memoryVectors.appId, agentId: memoryVectors.agentId, memoryType: memoryVectors.memoryType, embedder: memoryVectors.embedder, dim: memoryVectors.dim, hex: sql<string>`hex(${memoryVectors.vector})` })
        .from(memoryVectors)
        .where(and(eq(memoryVectors.appId, appId), inArray(memoryVectors.id, ids.slice(i, i + 90))));
      for (const r of rows) {
        const values = new Float32Array(r.dim);
        fromHex(r.hex, values);
        out.push({ id: r.id, appId: r.appId, agentId: r.agentId, memoryType: r.memoryType, embedder: r.embedder, values });
      }
    }
    return out;
  }

  async deleteByIds(appId: string, ids: string[]): Promise<void> {
    const agents = new Set<string>();
    for (let i = 0; i < ids.length; i += 90) {
      const deleted = await this.db
        .delete(memoryVectors)
        .where(and(eq(memoryVectors.appId, appId), inArray(memoryVectors.id, ids.slice(i, i + 90))))
        .returning({ agentId: memoryVectors.agentId });
      for (const d of deleted) agents.add(d.agentId);
    }
    await this.bump([...agents].map((agentId) => ({ appId, agentId })));
  }
}

/** Cloudflare Vectorize, filtered by metadata (needs metadata indexes on app_id, agent_id, memory_type). */
export class VectorizeIndex implements VectorIndex {
  private readonly index: VectorizeIndex_;
  constructor(index: VectorizeIndex_) {
    this.index = index;
  }

  async upsert(records: VectorRecord[]): Promise<void> {
    for (let i = 0; i < records.length; i += 1000) {
      await this.index.upsert(
        records.slice(i, i + 1000).map((r) => ({
          id: r.id,
          values: Array.from(r.values),
          metadata: { app_id: r.appId, agent_id: r.agentId, memory_type: r.memoryType, embedder: r.embedder },
        })),
      );
    }
  }

  async query(q: VectorQuery): Promise<VectorMatch[]> {
    const filter: VectorizeVectorMetadataFilter = { app_id: q.appId, agent_id: q.agentId };
    if (q.memoryTypes && q.memoryTypes.length > 0) filter.memory_type = { $in: [...q.memoryTypes] };
    const res = await this.index.query(Array.from(q.vector), { topK: q.topK, filter, returnMetadata: "indexed" });
    return res.matches.map((m) => ({ id: m.id, score: m.score, memoryType: (m.metadata?.memory_type ?? "semantic") as MemoryType }));
  }

  async getByIds(appId: string, ids: string[]): Promise<VectorRecord[]> {
    const found = await this.index.getByIds(ids);
    return found
      .filter((v) => v.metadata?.app_id === appId)
      .map((v) => ({
        id: v.id,
        appId,
        agentId: String(v.metadata?.agent_id),
        memoryType: v.metadata?.memory_type as MemoryType,
        embedder: String(v.metadata?.embedder),
        values: Float32Array.from(v.values as number[]),
      }));
  }

  async deleteByIds(appId: string, ids: string[]): Promise<void> {
    const owned = (await this.getByIds(appId, ids)).map((v) => v.id);
    if (owned.length > 0) await this.index.deleteByIds(owned);
  }
}

type VectorizeIndex_ = globalThis.VectorizeIndex;
