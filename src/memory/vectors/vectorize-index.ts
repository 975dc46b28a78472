/**
 * Cloudflare Vectorize behind the VectorIndex interface (VECTOR_INDEX=vectorize).
 *
 * - Each app's vectors live in their own namespace (the app id, or a hash of
 *   it when longer than Vectorize's 64 bytes): a query only ever scans its
 *   app's vectors.
 * - Vector ids are `<app_id>:<memory id>` (ids are unique across an index,
 *   whatever the namespace), or `h:` and a SHA-256 of it when that is longer
 *   than 64 bytes; the memory id travels in the metadata.
 * - Queries filter on metadata indexes, which must exist before vectors are
 *   inserted: create the ones in VECTORIZE_METADATA_INDEXES (README).
 * - Within Vectorize's limits: upserts of at most 1,000 vectors from a
 *   Worker, topK at most 100 with returnMetadata "indexed".
 */
import type { MemoryType } from "../../db/schema.ts";
import { MEMORY_TYPES } from "../../db/schema.ts";
import { sha256Hex } from "../../storage/hash.ts";
import type { IndexDescription, VectorIndex, VectorMatch, VectorQuery, VectorRecord } from "./index.ts";

/** Vectors per upsert call (Vectorize takes at most 1,000 per call from a Worker). */
export const VECTORIZE_UPSERT_BATCH = 1000;
/** Ids per getByIds / deleteByIds call. */
export const VECTORIZE_IDS_BATCH = 100;
/** Results per query with returnMetadata "indexed" (20 with values or all metadata). */
export const VECTORIZE_MAX_TOP_K = 100;
/** Ids and namespaces are at most 64 bytes. */
const MAX_NAME_BYTES = 64;

/** The metadata indexes to create (`wrangler vectorize create-metadata-index <index> --property-name … --type string`). */
export const VECTORIZE_METADATA_INDEXES = [
  { property: "agent_id", type: "string" },
  { property: "memory_type", type: "string" },
  { property: "version_id", type: "string" },
  { property: "memory_id", type: "string" },
] as const;

const AGENT_WIDE = "";
const utf8 = new TextEncoder();

/** `name` when it fits Vectorize's 64 bytes, else `prefix` and the SHA-256 of it (stable: the same name always maps to the same id). */
async function fitted(name: string, prefix: string): Promise<string> {
  return utf8.encode(name).length <= MAX_NAME_BYTES ? name : `${prefix}${(await sha256Hex(utf8.encode(name))).slice(0, 48)}`;
}

const vectorId = (appId: string, id: string) => fitted(`${appId}:${id}`, "h:");
const namespaceOf = (appId: string) => fitted(appId, "app-h:");

function memoryTypeOf(v: unknown): MemoryType {
  return MEMORY_TYPES.find((t) => t === v) ?? "semantic";
}

function batches<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export class VectorizeVectorIndex implements VectorIndex {
  private readonly index: Vectorize;
  constructor(index: Vectorize) {
    this.index = index;
  }

  async upsert(records: VectorRecord[]): Promise<void> {
    for (const part of batches(records, VECTORIZE_UPSERT_BATCH)) {
      const vectors = await Promise.all(
        part.map(async (r) => ({
          id: await vectorId(r.appId, r.id),
          namespace: await namespaceOf(r.appId),
          values: Array.from(r.values),
          metadata: { app_id: r.appId, agent_id: r.agentId, memory_type: r.memoryType, version_id: r.versionId ?? AGENT_WIDE, embedder: r.embedder, memory_id: r.id },
        })),
      );
      await this.index.upsert(vectors);
    }
  }

  async query(q: VectorQuery): Promise<VectorMatch[]> {
    const filter: VectorizeVectorMetadataFilter = { agent_id: q.agentId };
    if (q.memoryTypes && q.memoryTypes.length > 0) filter.memory_type = { $in: [...q.memoryTypes] };
    filter.version_id = q.versionId === null ? AGENT_WIDE : { $in: [AGENT_WIDE, q.versionId] };
    const res = await this.index.query(Array.from(q.vector), {
      topK: Math.min(q.topK, VECTORIZE_MAX_TOP_K),
      namespace: await namespaceOf(q.appId),
      filter,
      returnMetadata: "indexed",
    });
    return res.matches.map((m) => ({
      id: String(m.metadata?.memory_id),
      score: m.score,
      memoryType: memoryTypeOf(m.metadata?.memory_type),
      versionId: m.metadata?.version_id ? String(m.metadata.version_id) : null,
    }));
  }

  async getByIds(appId: string, ids: string[]): Promise<VectorRecord[]> {
    const out: VectorRecord[] = [];
    for (const part of batches(ids, VECTORIZE_IDS_BATCH)) {
      const found = await this.index.getByIds(await Promise.all(part.map((id) => vectorId(appId, id))));
      for (const v of found) {
        if (v.metadata?.app_id !== appId) continue;
        out.push({
          id: String(v.metadata?.memory_id),
          appId,
          agentId: String(v.metadata?.agent_id),
          memoryType: memoryTypeOf(v.metadata?.memory_type),
          versionId: v.metadata?.version_id ? String(v.metadata.version_id) : null,
          embedder: String(v.metadata?.embedder),
          values: Float32Array.from(v.values),
        });
      }
    }
    return out;
  }

  /** Vectorize cannot list by metadata cheaply: the configured embedder applies. */
  async embedderOf(): Promise<undefined> {
    return undefined;
  }

  async describe(): Promise<IndexDescription> {
    return { backend: "vectorize", vectors: null, embedder: null, dim: null, search: "service" };
  }

  async deleteByIds(appId: string, ids: string[]): Promise<void> {
    // Ids carry the app: another app's vectors cannot be named.
    for (const part of batches(ids, VECTORIZE_IDS_BATCH)) await this.index.deleteByIds(await Promise.all(part.map((id) => vectorId(appId, id))));
  }
}
