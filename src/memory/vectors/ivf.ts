/**
 * The IVF index of an agent too large to search from the isolate cache — an
 * inverted file with int8 codes and exact re-ranking (Jégou, Douze & Schmid
 * 2011; FAISS's IndexIVFScalarQuantizer with a refine step):
 *
 * - a coarse quantizer: √n unit centroids from spherical k-means on a sample
 *   (kmeans.ts), in `vector_centroids`, cached in the isolate per build;
 * - posting lists: every vector under its nearest centroid as an int8 code
 *   (quantize.ts) in `vector_postings`, clustered by (build, list);
 * - a search reads the `probesFor(nlist)` lists nearest to the query, scores
 *   their codes, and re-ranks the best `rerankFor(topK)` with the exact
 *   Float32 vectors from memory_vectors.
 *
 * Writes keep the live build current (postingsFor on every upsert); a queue
 * job makes a new build when the agent first grows large or drifts
 * (ivf-build.ts), and the search goes on reading the previous one meanwhile.
 */
import { and, asc, eq, inArray, sql } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import { jsonRowSelects, mapIterable, runEach } from "../../db/bulk.ts";
import { chunksWithinParameters } from "../../db/limits.ts";
import { memoryVectors, vectorCentroids, vectorIvf, vectorPostings, type MemoryType } from "../../db/schema.ts";
import { CacheSpace } from "../../isolate/cache.ts";
import { MIB } from "../../isolate/budget.ts";
import { fromHex, norm, toBlob } from "./codec.ts";
import { nearest, nearestLists } from "./kmeans.ts";
import { quantize } from "./quantize.ts";
import { scopeFilter } from "./d1-rows.ts";
import { inScope, type VectorMatch, type VectorQuery } from "./index.ts";
import { TopK } from "./top-k.ts";

export type IvfMeta = typeof vectorIvf.$inferSelect;
export type PostingRow = typeof vectorPostings.$inferSelect;

/**
 * The index's settings. `probeFraction` (the share of lists a search reads)
 * was chosen on validation queries of `npm run bench:memory -- --tune` for
 * recall@10 ≥ 0.95 against exact search; never on the figures it reports.
 */
export const IVF = {
  minLists: 4,
  maxLists: 1024,
  /** k-means sample: this many vectors per list (FAISS warns below 39; the re-rank absorbs a coarser quantizer). */
  samplePerList: 32,
  iterations: 10,
  probeFraction: 0.06,
  minProbes: 4,
  /** Candidates re-ranked exactly: this many times top_k, at least minRerank. */
  rerankFactor: 2,
  minRerank: 20,
} as const;

export function listsFor(n: number): number {
  return Math.max(IVF.minLists, Math.min(IVF.maxLists, Math.round(Math.sqrt(n))));
}

export function probesFor(nlist: number): number {
  return Math.min(nlist, Math.max(IVF.minProbes, Math.ceil(nlist * IVF.probeFraction)));
}

export function rerankFor(topK: number): number {
  return Math.max(IVF.minRerank, topK * IVF.rerankFactor);
}

export async function readIvf(db: Db, appId: string, agentId: string): Promise<IvfMeta | undefined> {
  const [row] = await db
    .select()
    .from(vectorIvf)
    .where(and(eq(vectorIvf.appId, appId), eq(vectorIvf.agentId, agentId)));
  return row;
}

/** A live build: one to search and to keep current. */
export interface LiveIvf {
  appId: string;
  agentId: string;
  build: number;
  embedder: string;
  dim: number;
  nlist: number;
}

export function liveIvf(meta: IvfMeta | undefined): LiveIvf | undefined {
  if (!meta || meta.build <= 0 || meta.embedder === null || meta.dim === null || meta.nlist <= 0) return undefined;
  return { appId: meta.appId, agentId: meta.agentId, build: meta.build, embedder: meta.embedder, dim: meta.dim, nlist: meta.nlist };
}

/** Centroids of a build never change: the isolate keeps them by (agent, build). */
const centroidCache = new CacheSpace<Float32Array>("ivf-centroids", 8 * MIB);

export async function centroidsOf(db: Db, live: LiveIvf): Promise<Float32Array> {
  const key = `${live.appId}\u0000${live.agentId}\u0000${live.build}`;
  const hit = centroidCache.get(key);
  if (hit) return hit;
  const rows = await db
    .select({ listId: vectorCentroids.listId, hex: sql<string>`hex(${vectorCentroids.centroid})` })
    .from(vectorCentroids)
    .where(and(eq(vectorCentroids.appId, live.appId), eq(vectorCentroids.agentId, live.agentId), eq(vectorCentroids.build, live.build)))
    .orderBy(asc(vectorCentroids.listId));
  const centroids = new Float32Array(live.nlist * live.dim);
  if (rows.length !== live.nlist) throw new Error(`IVF build ${live.build} of agent '${live.agentId}' has ${rows.length} centroids, expected ${live.nlist}`);
  for (const r of rows) fromHex(r.hex, centroids.subarray(r.listId * live.dim, (r.listId + 1) * live.dim));
  centroidCache.set(key, centroids, centroids.byteLength);
  return centroids;
}

export async function writeCentroids(db: Db, appId: string, agentId: string, build: number, centroids: Float32Array, dim: number): Promise<void> {
  await db.delete(vectorCentroids).where(and(eq(vectorCentroids.appId, appId), eq(vectorCentroids.agentId, agentId), eq(vectorCentroids.build, build)));
  const rows = Array.from({ length: centroids.length / dim }, (_, listId) => ({ appId, agentId, build, listId, centroid: toBlob(centroids.subarray(listId * dim, (listId + 1) * dim)) }));
  await runEach(mapIterable(jsonRowSelects(vectorCentroids, rows), (select) => db.insert(vectorCentroids).select(select)));
}

/** What a posting is made from. */
export interface Postable {
  id: string;
  memoryType: MemoryType;
  versionId: string | null;
  values: Float32Array;
}

/** The postings of `vectors` in a build with `centroids`: each under its nearest centroid, quantized. */
export function postingsFor(appId: string, agentId: string, build: number, centroids: Float32Array, dim: number, vectors: readonly Postable[]): PostingRow[] {
  return vectors.map((v) => {
    const q = quantize(v.values);
    return {
      appId,
      agentId,
      build,
      listId: nearest(centroids, dim, v.values).list,
      vectorId: v.id,
      memoryType: v.memoryType,
      versionId: v.versionId,
      scale: q.scale,
      norm: q.norm,
      code: Buffer.from(q.code.buffer, q.code.byteOffset, q.code.byteLength),
    };
  });
}

export async function writePostings(db: Db, rows: readonly PostingRow[]): Promise<void> {
  const statements = mapIterable(jsonRowSelects(vectorPostings, rows), (select) =>
    db
      .insert(vectorPostings)
      .select(select)
      .onConflictDoUpdate({
        target: [vectorPostings.appId, vectorPostings.agentId, vectorPostings.build, vectorPostings.listId, vectorPostings.vectorId],
        set: { memoryType: sql`excluded.memory_type`, versionId: sql`excluded.version_id`, scale: sql`excluded.scale`, norm: sql`excluded.norm`, code: sql`excluded.code` },
      }),
  );
  await runEach(statements);
}

/** Removes the postings of these vectors from every build (a vector that changed may move to another list). */
export async function deletePostings(db: Db, appId: string, vectorIds: readonly string[]): Promise<void> {
  for (const part of chunksWithinParameters(vectorIds, 1, 1)) {
    await db.delete(vectorPostings).where(and(eq(vectorPostings.appId, appId), inArray(vectorPostings.vectorId, part)));
  }
}

/** Σ q[i]·code[i] straight from SQLite's hex() of the int8 code. */
function dotHex(q: Float32Array, hex: string): number {
  let s = 0;
  for (let i = 0, j = 0; i < q.length; i++, j += 2) {
    const a = hex.charCodeAt(j);
    const b = hex.charCodeAt(j + 1);
    const byte = ((a < 65 ? a - 48 : a - 55) << 4) | (b < 65 ? b - 48 : b - 55);
    s += q[i] * (byte > 127 ? byte - 256 : byte);
  }
  return s;
}

/** What one IVF search read (diagnostics and the benchmark). */
export interface IvfSearchStats {
  lists: number;
  probed: number;
  scanned: number;
  reranked: number;
}

export async function searchIvf(db: Db, live: LiveIvf, centroids: Float32Array, q: VectorQuery, stats?: IvfSearchStats): Promise<VectorMatch[]> {
  const lists = nearestLists(centroids, live.dim, q.vector, probesFor(live.nlist));
  const qn = norm(q.vector) || 1;
  const candidates = new TopK(rerankFor(q.topK));
  let scanned = 0;
  for (const part of chunksWithinParameters(lists, 1, 8)) {
    const where = [eq(vectorPostings.appId, q.appId), eq(vectorPostings.agentId, q.agentId), eq(vectorPostings.build, live.build), inArray(vectorPostings.listId, part)];
    if (q.memoryTypes && q.memoryTypes.length > 0) where.push(inArray(vectorPostings.memoryType, [...q.memoryTypes]));
    where.push(scopeFilter(vectorPostings.versionId, q.versionId));
    const rows = await db
      .select({
        id: vectorPostings.vectorId,
        memoryType: vectorPostings.memoryType,
        versionId: vectorPostings.versionId,
        scale: vectorPostings.scale,
        norm: vectorPostings.norm,
        hex: sql<string>`hex(${vectorPostings.code})`,
      })
      .from(vectorPostings)
      .where(and(...where));
    scanned += rows.length;
    for (const r of rows) {
      candidates.offer({ id: r.id, memoryType: r.memoryType, versionId: r.versionId, score: (r.scale * dotHex(q.vector, r.hex)) / (qn * (r.norm || 1)) });
    }
  }
  // Exact re-rank: the candidates' Float32 vectors (a vector deleted since its posting was read is dropped).
  const top = new TopK(q.topK);
  const types = q.memoryTypes && q.memoryTypes.length > 0 ? new Set(q.memoryTypes) : null;
  const ids = [...new Set(candidates.items.map((c) => c.id))];
  const v = new Float32Array(live.dim);
  for (const part of chunksWithinParameters(ids, 1, 2)) {
    const rows = await db
      .select({ id: memoryVectors.id, memoryType: memoryVectors.memoryType, versionId: memoryVectors.versionId, dim: memoryVectors.dim, hex: sql<string>`hex(${memoryVectors.vector})` })
      .from(memoryVectors)
      .where(and(eq(memoryVectors.appId, q.appId), eq(memoryVectors.agentId, q.agentId), inArray(memoryVectors.id, part)));
    for (const r of rows) {
      if (r.dim !== live.dim || (types && !types.has(r.memoryType)) || !inScope(r.versionId, q.versionId)) continue;
      fromHex(r.hex, v);
      let s = 0;
      for (let i = 0; i < v.length; i++) s += q.vector[i] * v[i];
      top.offer({ id: r.id, memoryType: r.memoryType, versionId: r.versionId, score: s / (qn * (norm(v) || 1)) });
    }
  }
  if (stats) Object.assign(stats, { lists: live.nlist, probed: lists.length, scanned, reranked: ids.length });
  return top.items;
}
