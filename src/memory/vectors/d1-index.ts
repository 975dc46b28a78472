/**
 * The D1-backed vector index (local, tests, and the default): Float32 blobs in
 * D1, searched from a copy of the agent's vectors held in the isolate
 * (agent-cache.ts) — exact cosine for an agent that fits MAX_EXACT_BYTES;
 * for a larger one, Hamming distance over binary sketches, then an exact
 * re-rank of the best candidates' vectors read from D1. Every write appends
 * to the change log after writing (changes.ts); a search first reads the
 * agent's last change and, when its copy is behind, patches it with the
 * vectors changed since — a copy is loaded whole only the first time, after
 * a burst of changes, or once it is stale, and a sketch then comes from its
 * R2 snapshot when that can be caught up. An agent too large even for a
 * sketch is scanned from D1 page by page.
 */
import { and, eq, inArray, sql } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import { jsonRowSelects, mapIterable, runEach } from "../../db/bulk.ts";
import { chunksWithinParameters } from "../../db/limits.ts";
import { z } from "zod";
import { memoryVectors } from "../../db/schema.ts";
import { agentKey, agentVectors, AgentVectors, formFor, MAX_EXACT_BYTES, MAX_SKETCH_BYTES } from "./agent-cache.ts";
import { CHANGE_RETENTION_MS, changesSince, latestChange, recordChanges } from "./changes.ts";
import { dot, fromHex, norm, toBlob } from "./codec.ts";
import { checkQuery, EmbeddingMismatchError, inScope, type IndexDescription, type VectorIndex, type VectorMatch, type VectorQuery, type VectorRecord } from "./index.ts";
import { TopK } from "./top-k.ts";
import { keys } from "../../storage/keys.ts";
import { getBytes, putBytes } from "../../storage/objects.ts";
import { DomainError } from "../../errors.ts";
import { vectorPages, type VectorRow } from "./d1-rows.ts";

/** A copy this many changes behind is loaded again rather than patched. */
const MAX_PATCH = 2000;
/** A snapshot caught up over more changes than this is written again. */
const SNAPSHOT_REFRESH = 500;
/** Drifted snapshots the cron rewrites per run (each may read an agent's vectors from D1). */
const SNAPSHOT_WRITES_PER_RUN = 3;

type AgentStats = { n: number; embedder: string | null; dim: number | null };
/** What a snapshot's R2 metadata says (saveSnapshot). */
const SnapshotInfoSchema = z.object({ embedder: z.string(), dim: z.string(), seq: z.string(), synced_at: z.string() });
/** Vectors of a sketch search re-ranked exactly: this many per result asked, at least SKETCH_RERANK_MIN (bench/memory.ts --tune-sketch). */
export const SKETCH_RERANK_PER_RESULT = 10;
export const SKETCH_RERANK_MIN = 400;

export interface D1IndexOptions {
  /** The largest agent kept exact, and the largest sketch (tests make them small). */
  maxExactBytes?: number;
  maxSketchBytes?: number;
  /** Where sketches are snapshotted (the checkpoints bucket): a cold isolate reads one object instead of every vector. */
  snapshots?: R2Bucket;
  now?: () => number;
}

/** What the last search of an index instance did (diagnostics, tests). */
export interface SearchTrace {
  form: "exact" | "sketch" | "scan" | "none";
  /** How the isolate's copy was brought up to date: already current, patched with changes, restored from its R2 snapshot (and caught up), or loaded whole from D1. */
  sync: "current" | "patched" | "restored" | "loaded" | "none";
  reranked: number;
}

export class D1VectorIndex implements VectorIndex {
  private readonly db: Db;
  private readonly limits: { exact: number; sketch: number };
  private readonly now: () => number;
  private readonly snapshots: R2Bucket | undefined;
  lastSearch: SearchTrace | undefined;

  constructor(db: Db, options: D1IndexOptions = {}) {
    this.db = db;
    this.snapshots = options.snapshots;
    this.limits = { exact: options.maxExactBytes ?? MAX_EXACT_BYTES, sketch: options.maxSketchBytes ?? MAX_SKETCH_BYTES };
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

  private async stats(appId: string, agentId: string): Promise<AgentStats> {
    const [row] = await this.db
      .select({ n: sql<number>`count(*)`, embedder: sql<string | null>`min(${memoryVectors.embedder})`, dim: sql<number | null>`min(${memoryVectors.dim})` })
      .from(memoryVectors)
      .where(and(eq(memoryVectors.appId, appId), eq(memoryVectors.agentId, agentId)));
    return row ?? { n: 0, embedder: null, dim: null };
  }

  async describe(appId: string, agentId: string): Promise<IndexDescription> {
    const s = await this.stats(appId, agentId);
    const form = s.n === 0 || s.embedder === null || s.dim === null ? "none" : (formFor(s.n, s.dim, this.limits) ?? "scan");
    return { backend: "d1", vectors: s.n, embedder: s.embedder, dim: s.dim, search: form };
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
    // After the writes, never before: whoever reads the log entry then reads the vector as written (or newer).
    await recordChanges(
      this.db,
      records.map((r) => ({ appId: r.appId, agentId: r.agentId, vectorId: r.id })),
      this.now(),
    );
  }

  async query(q: VectorQuery): Promise<VectorMatch[]> {
    const seq = await latestChange(this.db, q.appId, q.agentId);
    const { copy, sync } = await this.current(q.appId, q.agentId, seq);
    if (copy === "none") {
      this.lastSearch = { form: "none", sync: "none", reranked: 0 };
      return [];
    }
    if (copy === "large") {
      this.lastSearch = { form: "scan", sync: "none", reranked: 0 };
      return this.scan(q);
    }
    checkQuery(q, copy);
    if (copy.form === "exact") {
      this.lastSearch = { form: "exact", sync, reranked: 0 };
      return copy.exactTop(q.vector, q.topK, q.memoryTypes, q.versionId);
    }
    const candidates = copy.sketchCandidates(q.vector, Math.max(SKETCH_RERANK_MIN, q.topK * SKETCH_RERANK_PER_RESULT), q.memoryTypes, q.versionId);
    this.lastSearch = { form: "sketch", sync, reranked: candidates.length };
    return this.rerank(q, candidates);
  }

  /** The exact top-k of `ids` (the vectors as D1 has them now: one changed since the copy was patched is taken as it is). */
  private async rerank(q: VectorQuery, ids: readonly string[]): Promise<VectorMatch[]> {
    const types = q.memoryTypes && q.memoryTypes.length > 0 ? new Set(q.memoryTypes) : null;
    const qn = norm(q.vector) || 1;
    const top = new TopK(q.topK);
    const v = new Float32Array(q.vector.length);
    for (const row of await this.rowsOf(q.appId, q.agentId, ids)) {
      if (row.dim !== v.length || (types && !types.has(row.memoryType)) || !inScope(row.versionId, q.versionId)) continue;
      fromHex(row.hex, v);
      top.offer({ id: row.id, memoryType: row.memoryType, versionId: row.versionId, score: dot(q.vector, v) / (qn * (norm(v) || 1)) });
    }
    return top.items;
  }

  /**
   * The agent's vectors with these ids, in one statement (the ids travel as
   * one JSON parameter). The agent is checked here, not in SQL: with
   * agent_id in the WHERE clause SQLite walks the agent's index (every
   * vector of the agent) instead of looking each id up by primary key —
   * 100 ms instead of 10 for 400 ids among 100k. (One row of all the vectors
   * as a JSON array was slower still: 56 ms p50 against 44 for the search.)
   */
  private async rowsOf(appId: string, agentId: string, ids: readonly string[]): Promise<(VectorRow & { embedder: string })[]> {
    return (await this.byIds(appId, ids)).filter((r) => r.agentId === agentId);
  }

  /** The app's vectors with these ids (any agent), looked up by primary key. */
  private async byIds(appId: string, ids: readonly string[]) {
    if (ids.length === 0) return [];
    return this.db
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
      .where(and(eq(memoryVectors.appId, appId), sql`${memoryVectors.id} IN (SELECT value FROM json_each(${JSON.stringify(ids)}))`));
  }

  /**
   * The isolate's copy of the agent as of change `seq` or later: the cached
   * one when current; patched with the vectors changed since when a few
   * changed; else loaded — from its R2 snapshot when the agent is sketched
   * and the snapshot can be caught up, from D1 otherwise (first use, many
   * changes, a copy not caught up for half the log's retention, or an agent
   * that doubled or halved since its sketch's mean was taken).
   */
  private async current(appId: string, agentId: string, seq: number): Promise<{ copy: AgentVectors | "none" | "large"; sync: SearchTrace["sync"] }> {
    const key = agentKey(appId, agentId);
    const cached = agentVectors.get(key);
    if (cached) {
      if (cached.seq >= seq && this.now() - cached.syncedAt < CHANGE_RETENTION_MS / 2) return { copy: cached, sync: "current" };
      if ((await this.patch(cached, appId, agentId, seq)) !== false) {
        agentVectors.set(key, cached, cached.bytes());
        return { copy: cached, sync: "patched" };
      }
    }
    const { copy, restored } = await this.load(appId, agentId, seq);
    if (copy === "none" || copy === "large") agentVectors.delete(key);
    else agentVectors.set(key, copy, copy.bytes());
    return { copy, sync: restored ? "restored" : "loaded" };
  }

  /**
   * Applies the changes after `copy.seq` (re-reading the vectors they name)
   * and says how many there were; false when the copy cannot be caught up and must be loaded again: not
   * caught up for half the log's retention, more than MAX_PATCH changes,
   * vectors of another embedder, a form its size no longer has, or a sketch
   * whose agent doubled or halved.
   */
  private async patch(copy: AgentVectors, appId: string, agentId: string, seq: number): Promise<number | false> {
    const now = this.now();
    if (now - copy.syncedAt >= CHANGE_RETENTION_MS / 2) return false;
    const changes = await changesSince(this.db, appId, agentId, copy.seq, MAX_PATCH + 1);
    if (changes.length > MAX_PATCH) return false;
    const ids = [...new Set(changes.map((c) => c.vectorId))];
    const rows = new Map((await this.rowsOf(appId, agentId, ids)).map((r) => [r.id, r]));
    // Vectors of another embedder (re-embedding, or a change made outside the index): the copy is loaded again, and the search says so.
    if (![...rows.values()].every((r) => r.embedder === copy.embedder && r.dim === copy.dim)) return false;
    for (const id of ids) {
      const row = rows.get(id);
      if (row) copy.put(id, row.memoryType, row.versionId, decode(row));
      else copy.remove(id);
    }
    copy.seq = Math.max(seq, changes.length > 0 ? changes[changes.length - 1].seq : seq);
    copy.syncedAt = now;
    const drifted = copy.form === "sketch" && (copy.size > 2 * copy.loadedCount || 2 * copy.size < copy.loadedCount);
    return !drifted && formFor(copy.size, copy.dim, this.limits) === copy.form ? changes.length : false;
  }

  /**
   * Every vector of the agent, in the form its size allows; `seq` read
   * before the vectors (changes after it are applied later). A sketch comes
   * from its R2 snapshot when one can be caught up (one read instead of every
   * vector from D1); a sketch loaded from D1, or a snapshot caught up over
   * more than SNAPSHOT_REFRESH changes, is written back as the new snapshot.
   */
  private async load(
    appId: string,
    agentId: string,
    seq: number,
    opts: { writeSnapshot?: boolean; stats?: AgentStats } = {},
  ): Promise<{ copy: AgentVectors | "none" | "large"; restored: boolean }> {
    const s = opts.stats ?? (await this.stats(appId, agentId));
    if (s.n === 0 || s.embedder === null || s.dim === null) return { copy: "none", restored: false };
    const form = formFor(s.n, s.dim, this.limits);
    if (!form) return { copy: "large", restored: false };
    const restored = form === "sketch" ? await this.readSnapshot(appId, agentId) : undefined;
    if (restored && restored.embedder === s.embedder && restored.dim === s.dim) {
      const applied = await this.patch(restored, appId, agentId, seq);
      if (applied !== false) {
        if (opts.writeSnapshot || applied > SNAPSHOT_REFRESH) await this.saveSnapshot(appId, agentId, restored);
        return { copy: restored, restored: true };
      }
    }
    const copy = new AgentVectors(s.embedder, s.dim, form, seq, this.now(), s.n);
    for await (const page of vectorPages(this.db, appId, agentId)) {
      const rows = page.filter((r) => r.dim === s.dim);
      const vectors = rows.map(decode);
      // The sketch's centre: the mean of the first page (2,000 vectors) is close enough to centre the signs.
      if (form === "sketch" && copy.size === 0) copy.setMean(vectors);
      rows.forEach((r, i) => copy.put(r.id, r.memoryType, r.versionId, vectors[i]));
    }
    copy.loadedCount = copy.size;
    if (form === "sketch") await this.saveSnapshot(appId, agentId, copy);
    return { copy, restored: false };
  }

  /**
   * The cron's part: rewrites a sketched agent's snapshot when it drifted —
   * more than SNAPSHOT_REFRESH changes behind, older than a quarter of the
   * change log's retention (restores must catch up within half of it), or
   * missing or unreadable — from the snapshot caught up, or from D1. Run
   * twice, the second run finds it fresh. `known`: the agent's stats, when the
   * caller has read them.
   */
  async refreshSnapshot(appId: string, agentId: string, known?: AgentStats): Promise<"fresh" | "written" | "not sketched"> {
    const s = known ?? (await this.stats(appId, agentId));
    if (!this.snapshots || s.n === 0 || s.embedder === null || s.dim === null || formFor(s.n, s.dim, this.limits) !== "sketch") return "not sketched";
    const seq = await latestChange(this.db, appId, agentId);
    // The snapshot's own metadata says what it holds: no need to read its megabytes to know whether it drifted.
    const info = SnapshotInfoSchema.safeParse((await this.snapshots.head(keys.memorySketch(appId, agentId)))?.customMetadata ?? {});
    if (info.success && info.data.embedder === s.embedder && Number(info.data.dim) === s.dim && this.now() - Number(info.data.synced_at) < CHANGE_RETENTION_MS / 4) {
      const behind = await changesSince(this.db, appId, agentId, Number(info.data.seq), SNAPSHOT_REFRESH + 1);
      if (behind.length <= SNAPSHOT_REFRESH) return "fresh";
    }
    const { copy } = await this.load(appId, agentId, seq, { writeSnapshot: true, stats: s });
    return copy instanceof AgentVectors ? "written" : "not sketched";
  }

  /** The cron's part for every sketched agent, largest first: rewrites at most `maxWrites` drifted snapshots; which it wrote. */
  async refreshSnapshots(maxWrites = SNAPSHOT_WRITES_PER_RUN): Promise<string[]> {
    if (!this.snapshots) return [];
    // Agents whose floats alone would not fit an exact copy (a superset of the sketched ones; formFor decides).
    const candidates = await this.db
      .select({
        appId: memoryVectors.appId,
        agentId: memoryVectors.agentId,
        n: sql<number>`count(*)`,
        embedder: sql<string | null>`min(${memoryVectors.embedder})`,
        dim: sql<number | null>`min(${memoryVectors.dim})`,
      })
      .from(memoryVectors)
      .groupBy(memoryVectors.appId, memoryVectors.agentId)
      .having(sql`count(*) * min(${memoryVectors.dim}) * 4 > ${this.limits.exact / 2}`)
      .orderBy(sql`count(*) DESC`);
    const written: string[] = [];
    for (const a of candidates) {
      if (written.length >= maxWrites) break;
      if (a.dim === null || formFor(a.n, a.dim, this.limits) !== "sketch") continue;
      if ((await this.refreshSnapshot(a.appId, a.agentId, a)) === "written") written.push(`${a.appId}/${a.agentId}`);
    }
    return written;
  }

  /** The agent's sketch snapshot, if there is a readable one. */
  private async readSnapshot(appId: string, agentId: string): Promise<AgentVectors | undefined> {
    const key = keys.memorySketch(appId, agentId);
    const bytes = this.snapshots
      ? await getBytes(this.snapshots, key).catch((e: unknown) => {
          // A snapshot is a cache: one that does not open is rebuilt from D1 (and rewritten).
          if (e instanceof DomainError && e.code === "object_tampered") {
            console.warn(`memory sketch snapshot ${key}: ${e.message}; rebuilding it from D1`);
            return null;
          }
          throw e;
        })
      : null;
    return bytes ? AgentVectors.fromSnapshot(bytes) : undefined;
  }

  private async saveSnapshot(appId: string, agentId: string, copy: AgentVectors): Promise<void> {
    if (!this.snapshots) return;
    await putBytes(this.snapshots, keys.memorySketch(appId, agentId), copy.toSnapshot(), "application/octet-stream", {
      embedder: copy.embedder,
      dim: String(copy.dim),
      seq: String(copy.seq),
      synced_at: String(copy.syncedAt),
    });
  }

  /** A search straight over D1, page by page (an agent too large for the isolate). */
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
    return (await this.byIds(appId, ids)).map((r) => ({ id: r.id, appId: r.appId, agentId: r.agentId, memoryType: r.memoryType, versionId: r.versionId, embedder: r.embedder, values: decode(r) }));
  }

  async deleteByIds(appId: string, ids: string[]): Promise<void> {
    const changes: { appId: string; agentId: string; vectorId: string }[] = [];
    for (const part of chunksWithinParameters(ids, 1, 1)) {
      const deleted = await this.db
        .delete(memoryVectors)
        .where(and(eq(memoryVectors.appId, appId), inArray(memoryVectors.id, part)))
        .returning({ id: memoryVectors.id, agentId: memoryVectors.agentId });
      for (const d of deleted) changes.push({ appId, agentId: d.agentId, vectorId: d.id });
    }
    await recordChanges(this.db, changes, this.now());
  }
}

function decode(row: VectorRow): Float32Array {
  const v = new Float32Array(row.dim);
  fromHex(row.hex, v);
  return v;
}
