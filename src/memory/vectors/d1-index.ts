/**
 * The D1-backed vector index (local, tests, and the default): Float32 blobs in
 * D1 and exact cosine top-k. An isolate keeps an agent's vectors in memory
 * (agent-cache.ts) while the agent's generation in D1 is unchanged; every
 * write through the index bumps it after writing. An agent too large for the
 * cache is scanned from D1 page by page.
 */
import { and, eq, inArray, isNull, or, sql, type SQL } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import { jsonRowSelects, mapIterable, runBatched, runEach } from "../../db/bulk.ts";
import { chunksWithinParameters } from "../../db/limits.ts";
import { memoryVectors, vectorGenerations, type MemoryType } from "../../db/schema.ts";
import { agentKey, agentVectors, entryBytes, MAX_CACHED_AGENT_BYTES, type CachedAgent } from "./agent-cache.ts";
import { cosineAt, dot, fromHex, norm, toBlob } from "./codec.ts";
import { checkQuery, EmbeddingMismatchError, inScope, type VectorIndex, type VectorMatch, type VectorQuery, type VectorRecord } from "./index.ts";
import { TopK } from "./top-k.ts";

const SCAN_PAGE = 2000;

/** The vectors a query of `asking` may see: the agent's and that version's. */
function scopeFilter(asking: string | null): SQL {
  return asking === null ? isNull(memoryVectors.versionId) : or(isNull(memoryVectors.versionId), eq(memoryVectors.versionId, asking))!;
}

export class D1VectorIndex implements VectorIndex {
  private readonly db: Db;
  private readonly maxCachedBytes: number;
  /** `maxCachedBytes`: the largest agent kept in the isolate (tests make it small to force scans). */
  constructor(db: Db, maxCachedBytes = MAX_CACHED_AGENT_BYTES) {
    this.db = db;
    this.maxCachedBytes = maxCachedBytes;
  }

  async embedderOf(appId: string, agentId: string): Promise<{ embedder: string; dim: number } | undefined> {
    const [row] = await this.db
      .select({ embedder: memoryVectors.embedder, dim: memoryVectors.dim })
      .from(memoryVectors)
      .where(and(eq(memoryVectors.appId, appId), eq(memoryVectors.agentId, agentId)))
      .limit(1);
    return row;
  }

  async upsert(records: VectorRecord[]): Promise<void> {
    const agents = new Map<string, VectorRecord>();
    for (const r of records) {
      const k = agentKey(r.appId, r.agentId);
      const first = agents.get(k);
      if (first && (first.embedder !== r.embedder || first.values.length !== r.values.length)) throw new EmbeddingMismatchError("one upsert mixes embedders for one agent");
      agents.set(k, first ?? r);
    }
    for (const r of agents.values()) {
      const existing = await this.embedderOf(r.appId, r.agentId);
      if (existing && (existing.embedder !== r.embedder || existing.dim !== r.values.length)) {
        throw new EmbeddingMismatchError(
          `agent '${r.agentId}' has vectors from ${existing.embedder} (${existing.dim} dimensions); these are from ${r.embedder} (${r.values.length}): re-embed its memories or keep one embedder`,
        );
      }
    }
    const rows = records.map((r) => ({
      id: r.id,
      appId: r.appId,
      agentId: r.agentId,
      memoryType: r.memoryType,
      versionId: r.versionId,
      embedder: r.embedder,
      dim: r.values.length,
      vector: toBlob(r.values),
    }));
    const statements = mapIterable(jsonRowSelects(memoryVectors, rows), (select) =>
      this.db
        .insert(memoryVectors)
        .select(select)
        .onConflictDoUpdate({
          target: [memoryVectors.appId, memoryVectors.id],
          set: { memoryType: sql`excluded.memory_type`, versionId: sql`excluded.version_id`, embedder: sql`excluded.embedder`, dim: sql`excluded.dim`, vector: sql`excluded.vector` },
        }),
    );
    await runEach(statements);
    await this.bump([...agents.values()].map((r) => ({ appId: r.appId, agentId: r.agentId })));
  }

  /** After the writes (never before: a search that read the old generation may cache what it saw). */
  private async bump(agents: { appId: string; agentId: string }[]): Promise<void> {
    const statements = chunksWithinParameters(agents, 3).map((part) =>
      this.db
        .insert(vectorGenerations)
        .values(part.map((a) => ({ ...a, generation: 1 })))
        .onConflictDoUpdate({ target: [vectorGenerations.appId, vectorGenerations.agentId], set: { generation: sql`${vectorGenerations.generation} + 1` } }),
    );
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
    const key = agentKey(q.appId, q.agentId);
    const generation = await this.generationOf(q.appId, q.agentId);
    const hit = agentVectors.get(key);
    const entry = hit && hit.generation === generation ? hit : await this.load(q.appId, q.agentId, generation);
    if (entry === "none" || entry === "large") {
      agentVectors.delete(key);
      return entry === "none" ? [] : this.scan(q);
    }
    if (entry !== hit) agentVectors.set(key, entry, entryBytes(entry));
    checkQuery(q, entry);
    const types = q.memoryTypes && q.memoryTypes.length > 0 ? new Set(q.memoryTypes) : null;
    const qn = norm(q.vector) || 1;
    const top = new TopK(q.topK);
    for (let i = 0; i < entry.ids.length; i++) {
      if (types && !types.has(entry.types[i])) continue;
      if (!inScope(entry.versions[i], q.versionId)) continue;
      top.offer({ id: entry.ids[i], memoryType: entry.types[i], versionId: entry.versions[i], score: cosineAt(q.vector, qn, entry.vectors, i * entry.dim, entry.norms[i]) });
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
    if (meta.n * meta.dim * 4 > this.maxCachedBytes) return "large";
    const ids: string[] = [];
    const types: MemoryType[] = [];
    const versions: (string | null)[] = [];
    const vectors = new Float32Array(meta.n * meta.dim);
    for await (const page of this.pages(appId, agentId)) {
      for (const row of page) {
        // Rows written since the count (their generation is newer) are left to the next search.
        if (ids.length === meta.n || row.dim !== meta.dim) continue;
        fromHex(row.hex, vectors.subarray(ids.length * meta.dim, (ids.length + 1) * meta.dim));
        ids.push(row.id);
        types.push(row.memoryType);
        versions.push(row.versionId);
      }
    }
    const n = ids.length;
    const norms = new Float64Array(n);
    for (let i = 0; i < n; i++) norms[i] = norm(vectors.subarray(i * meta.dim, (i + 1) * meta.dim));
    return { generation, embedder: meta.embedder, dim: meta.dim, ids, types, versions, vectors: vectors.subarray(0, n * meta.dim), norms };
  }

  /** A search straight over D1, page by page (an agent too large for the cache). */
  private async scan(q: VectorQuery): Promise<VectorMatch[]> {
    const existing = await this.embedderOf(q.appId, q.agentId);
    if (!existing) return [];
    checkQuery(q, existing);
    const qn = norm(q.vector) || 1;
    const top = new TopK(q.topK);
    const v = new Float32Array(q.vector.length);
    for await (const page of this.pages(q.appId, q.agentId, { types: q.memoryTypes, versionId: q.versionId })) {
      for (const row of page) {
        fromHex(row.hex, v);
        top.offer({ id: row.id, memoryType: row.memoryType, versionId: row.versionId, score: dot(q.vector, v) / (qn * (norm(v) || 1)) });
      }
    }
    return top.items;
  }

  /** The agent's vectors (of `types` and in the scope of `versionId`, when given) from D1, page by page (keyset on rowid). */
  private async *pages(
    appId: string,
    agentId: string,
    only?: { types?: readonly MemoryType[]; versionId: string | null },
  ): AsyncGenerator<{ id: string; memoryType: MemoryType; versionId: string | null; dim: number; hex: string }[]> {
    let after = 0;
    for (;;) {
      const where = [eq(memoryVectors.appId, appId), eq(memoryVectors.agentId, agentId), sql`rowid > ${after}`];
      if (only?.types && only.types.length > 0) where.push(inArray(memoryVectors.memoryType, [...only.types]));
      if (only) where.push(scopeFilter(only.versionId));
      const page = await this.db
        .select({
          rowid: sql<number>`rowid`,
          id: memoryVectors.id,
          memoryType: memoryVectors.memoryType,
          versionId: memoryVectors.versionId,
          dim: memoryVectors.dim,
          hex: sql<string>`hex(${memoryVectors.vector})`,
        })
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
    const out: VectorRecord[] = [];
    for (const part of chunksWithinParameters(ids, 1, 1)) {
      const rows = await this.db
        .select({
          id: memoryVectors.id,
          appId: memoryVectors.appId,
          agentId: memoryVectors.agentId,
          memoryType: memoryVectors.memoryType,
          versionId: memoryVectors.versionId,
          embedder: memoryVectors.embedder,
          dim: memoryVectors.dim,
          hex: sql<string>`hex(${memoryVectors.vector})`,
        })
        .from(memoryVectors)
        .where(and(eq(memoryVectors.appId, appId), inArray(memoryVectors.id, part)));
      for (const r of rows) {
        const values = new Float32Array(r.dim);
        fromHex(r.hex, values);
        out.push({ id: r.id, appId: r.appId, agentId: r.agentId, memoryType: r.memoryType, versionId: r.versionId, embedder: r.embedder, values });
      }
    }
    return out;
  }

  async deleteByIds(appId: string, ids: string[]): Promise<void> {
    const agents = new Set<string>();
    for (const part of chunksWithinParameters(ids, 1, 1)) {
      const deleted = await this.db
        .delete(memoryVectors)
        .where(and(eq(memoryVectors.appId, appId), inArray(memoryVectors.id, part)))
        .returning({ agentId: memoryVectors.agentId });
      for (const d of deleted) agents.add(d.agentId);
    }
    await this.bump([...agents].map((agentId) => ({ appId, agentId })));
  }
}
