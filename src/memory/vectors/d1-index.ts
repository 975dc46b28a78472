/**
 * The D1-backed vector index (local, tests, and the default): Float32 blobs in
 * D1. An isolate keeps an agent's vectors in memory (agent-cache.ts) and
 * answers exact cosine top-k while the agent's generation in D1 is unchanged;
 * every write through the index bumps it after writing. An agent too large
 * for the cache is searched through its IVF index (ivf.ts), which its writes
 * keep current; until its first build is live (a queue job this index
 * requests: ivf-build.ts), it is scanned from D1 page by page.
 */
import { and, eq, inArray, sql } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import { jsonRowSelects, mapIterable, runBatched, runEach } from "../../db/bulk.ts";
import { chunksWithinParameters } from "../../db/limits.ts";
import { memoryVectors, vectorGenerations, type MemoryType } from "../../db/schema.ts";
import { agentKey, agentVectors, entryBytes, MAX_CACHED_AGENT_BYTES, type CachedAgent } from "./agent-cache.ts";
import { cosineAt, dot, fromHex, norm, toBlob } from "./codec.ts";
import { checkQuery, EmbeddingMismatchError, inScope, type IndexDescription, type VectorIndex, type VectorMatch, type VectorQuery, type VectorRecord } from "./index.ts";
import { TopK } from "./top-k.ts";
import { vectorPages } from "./d1-rows.ts";
import { centroidsOf, deletePostings, liveIvf, postingsFor, probesFor, readIvf, searchIvf, writePostings, type IvfSearchStats, type LiveIvf } from "./ivf.ts";
import { requestIvfBuild, vectorGeneration, type EnqueueIvfBuild } from "./ivf-build.ts";

export interface D1IndexOptions {
  /** The largest agent kept in the isolate (tests make it small to force scans and IVF builds). */
  maxCachedBytes?: number;
  /** Enqueues an IVF build job; without it, an agent too large for the cache is scanned until the cron requests its build. */
  enqueueBuild?: EnqueueIvfBuild;
  now?: () => number;
}

type IndexState = { live: LiveIvf | undefined } | undefined;

export class D1VectorIndex implements VectorIndex {
  private readonly db: Db;
  readonly maxCachedBytes: number;
  private readonly enqueueBuild: EnqueueIvfBuild | undefined;
  private readonly now: () => number;
  /** What the last IVF search of this instance read (diagnostics, tests). */
  lastIvfSearch: IvfSearchStats | undefined;

  constructor(db: Db, options: D1IndexOptions = {}) {
    this.db = db;
    this.maxCachedBytes = options.maxCachedBytes ?? MAX_CACHED_AGENT_BYTES;
    this.enqueueBuild = options.enqueueBuild;
    this.now = options.now ?? (() => Date.now());
  }

  async embedderOf(appId: string, agentId: string): Promise<{ embedder: string; dim: number } | undefined> {
    const [row] = await this.db
      .select({ embedder: memoryVectors.embedder, dim: memoryVectors.dim })
      .from(memoryVectors)
      .where(and(eq(memoryVectors.appId, appId), eq(memoryVectors.agentId, agentId)))
      .limit(1);
    return row;
  }

  async describe(appId: string, agentId: string): Promise<IndexDescription> {
    const [stats] = await this.db
      .select({ n: sql<number>`count(*)`, embedder: sql<string | null>`min(${memoryVectors.embedder})`, dim: sql<number | null>`min(${memoryVectors.dim})` })
      .from(memoryVectors)
      .where(and(eq(memoryVectors.appId, appId), eq(memoryVectors.agentId, agentId)));
    const meta = await readIvf(this.db, appId, agentId);
    const live = liveIvf(meta);
    const n = stats?.n ?? 0;
    const search =
      n === 0 || !stats?.embedder || !stats.dim
        ? "none"
        : live && live.embedder === stats.embedder && live.dim === stats.dim
          ? "ivf"
          : n * stats.dim * 4 > this.maxCachedBytes
            ? "scan"
            : "exact";
    return {
      backend: "d1",
      vectors: n,
      embedder: stats?.embedder ?? null,
      dim: stats?.dim ?? null,
      search,
      ivf: meta
        ? {
            build: meta.build,
            lists: meta.nlist,
            probes: meta.nlist > 0 ? probesFor(meta.nlist) : 0,
            built_count: meta.builtCount,
            built_at: meta.builtAt === null ? null : new Date(meta.builtAt).toISOString(),
            building: meta.building,
            last_error: meta.lastError,
          }
        : null,
    };
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
    const touched = [...agents.values()].map((r) => ({ appId: r.appId, agentId: r.agentId }));
    const before = await this.indexesOf(touched);
    await runEach(statements);
    await this.post(records, before, new Map());
    await this.bump(touched);
    // A build that went live while these were written (its sweep may have run before them): post them in it too.
    const after = await this.indexesOf(touched);
    if (await this.post(records, after, before)) await this.bump(touched);
  }

  /** Each agent's IVF state: undefined, no index; else its live build, if any. */
  private async indexesOf(agents: readonly { appId: string; agentId: string }[]): Promise<Map<string, IndexState>> {
    const out = new Map<string, IndexState>();
    for (const a of agents) {
      const meta = await readIvf(this.db, a.appId, a.agentId);
      out.set(agentKey(a.appId, a.agentId), meta ? { live: liveIvf(meta) } : undefined);
    }
    return out;
  }

  /**
   * Keeps the agents' indexes current with `records`: first their old
   * postings go, from every build (a build under way posts them again in its
   * sweep); then they are posted in the live build, unless `done` says that
   * build has them already. True when it posted anything.
   */
  private async post(records: readonly VectorRecord[], indexes: Map<string, IndexState>, done: Map<string, IndexState>): Promise<boolean> {
    let wrote = false;
    const byAgent = new Map<string, VectorRecord[]>();
    for (const r of records) {
      const k = agentKey(r.appId, r.agentId);
      byAgent.set(k, [...(byAgent.get(k) ?? []), r]);
    }
    for (const [k, rs] of byAgent) {
      const state = indexes.get(k);
      if (!state) continue;
      const first = !done.has(k);
      if (first) await deletePostings(this.db, rs[0].appId, rs.map((r) => r.id));
      const live = state.live;
      if (!live || (!first && live.build === done.get(k)?.live?.build) || live.embedder !== rs[0].embedder || live.dim !== rs[0].values.length) continue;
      const centroids = await centroidsOf(this.db, live);
      await writePostings(this.db, postingsFor(live.appId, live.agentId, live.build, centroids, live.dim, rs));
      wrote = true;
    }
    return wrote;
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

  /**
   * Exact cosine top-k. The generation is read before the vectors: a write
   * that lands during the read bumps it afterwards, so the copy cached here
   * is never taken for newer than it is.
   */
  async query(q: VectorQuery): Promise<VectorMatch[]> {
    const key = agentKey(q.appId, q.agentId);
    const generation = await vectorGeneration(this.db, q.appId, q.agentId);
    const hit = agentVectors.get(key);
    if (!hit || hit.generation !== generation) {
      const live = liveIvf(await readIvf(this.db, q.appId, q.agentId));
      if (live && live.embedder === q.embedder && live.dim === q.vector.length) {
        const stats: IvfSearchStats = { lists: 0, probed: 0, scanned: 0, reranked: 0 };
        const found = await searchIvf(this.db, live, await centroidsOf(this.db, live), q, stats);
        this.lastIvfSearch = stats;
        return found;
      }
    }
    const entry = hit && hit.generation === generation ? hit : await this.load(q.appId, q.agentId, generation);
    if (entry === "none" || entry === "large") {
      agentVectors.delete(key);
      if (entry === "none") return [];
      if (this.enqueueBuild) await requestIvfBuild(this.db, this.enqueueBuild, q.appId, q.agentId, this.now());
      return this.scan(q);
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
    for await (const page of vectorPages(this.db, appId, agentId)) {
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
    for await (const page of vectorPages(this.db, q.appId, q.agentId, { types: q.memoryTypes, versionId: q.versionId })) {
      for (const row of page) {
        fromHex(row.hex, v);
        top.offer({ id: row.id, memoryType: row.memoryType, versionId: row.versionId, score: dot(q.vector, v) / (qn * (norm(v) || 1)) });
      }
    }
    return top.items;
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
    await deletePostings(this.db, appId, ids);
    await this.bump([...agents].map((agentId) => ({ appId, agentId })));
  }
}
