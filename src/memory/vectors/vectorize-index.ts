/**
 * Cloudflare Vectorize behind the VectorIndex interface, filtered by metadata:
 * create metadata indexes on `app_id`, `agent_id`, `memory_type` and `version_id`.
 * A vector's `version_id` is "" when it serves every version of its agent.
 * Vector ids are `<app_id>:<id>` (Vectorize has one id space per index, shared by every app).
 */
import type { MemoryType } from "../../db/schema.ts";
import { MEMORY_TYPES } from "../../db/schema.ts";
import type { IndexDescription, VectorIndex, VectorMatch, VectorQuery, VectorRecord } from "./index.ts";

/** Vectors per upsert call (Vectorize takes at most 1,000 per call from a Worker). */
export const VECTORIZE_UPSERT_BATCH = 1000;
/** Ids per getByIds / deleteByIds call. */
export const VECTORIZE_IDS_BATCH = 100;

const AGENT_WIDE = "";

const vectorId = (appId: string, id: string) => `${appId}:${id}`;

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
      await this.index.upsert(
        part.map((r) => ({
          id: vectorId(r.appId, r.id),
          values: Array.from(r.values),
          metadata: { app_id: r.appId, agent_id: r.agentId, memory_type: r.memoryType, version_id: r.versionId ?? AGENT_WIDE, embedder: r.embedder, memory_id: r.id },
        })),
      );
    }
  }

  async query(q: VectorQuery): Promise<VectorMatch[]> {
    const filter: VectorizeVectorMetadataFilter = { app_id: q.appId, agent_id: q.agentId };
    if (q.memoryTypes && q.memoryTypes.length > 0) filter.memory_type = { $in: [...q.memoryTypes] };
    filter.version_id = q.versionId === null ? AGENT_WIDE : { $in: [AGENT_WIDE, q.versionId] };
    const res = await this.index.query(Array.from(q.vector), { topK: q.topK, filter, returnMetadata: "indexed" });
    return res.matches.map((m) => ({
      id: String(m.metadata?.memory_id ?? m.id.slice(q.appId.length + 1)),
      score: m.score,
      memoryType: memoryTypeOf(m.metadata?.memory_type),
      versionId: m.metadata?.version_id ? String(m.metadata.version_id) : null,
    }));
  }

  async getByIds(appId: string, ids: string[]): Promise<VectorRecord[]> {
    const out: VectorRecord[] = [];
    for (const part of batches(ids, VECTORIZE_IDS_BATCH)) {
      const found = await this.index.getByIds(part.map((id) => vectorId(appId, id)));
      for (const v of found) {
        if (v.metadata?.app_id !== appId) continue;
        out.push({
          id: String(v.metadata?.memory_id ?? v.id.slice(appId.length + 1)),
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
    for (const part of batches(ids, VECTORIZE_IDS_BATCH)) await this.index.deleteByIds(part.map((id) => vectorId(appId, id)));
  }
}
