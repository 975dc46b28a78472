/**
 * The vector index behind memory search: one interface, two implementations.
 * `D1VectorIndex` (d1-index.ts; default, local and tests) keeps Float32 blobs
 * in D1 and searches an isolate copy of the agent (exact, or binary sketches
 * with an exact re-rank) patched from the vector change log;
 * `VectorizeVectorIndex` (vectorize-index.ts) uses Cloudflare Vectorize with
 * the same filter, one namespace per app. VECTOR_INDEX=vectorize selects it.
 */
import { z } from "zod";
import { DomainError } from "../../errors.ts";
import type { MemoryType } from "../../db/schema.ts";

export interface VectorRecord {
  id: string;
  appId: string;
  agentId: string;
  memoryType: MemoryType;
  /** The version the memory serves alone; null: every version of the agent. */
  versionId: string | null;
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
  /** Which version asks: it sees the agent's vectors and its own (null: the agent's only). */
  versionId: string | null;
}

export interface VectorMatch {
  id: string;
  memoryType: MemoryType;
  versionId: string | null;
  /** Cosine similarity. */
  score: number;
}

/** How an agent's vectors are searched (getMemoryIndex). */
export const IndexDescriptionSchema = z.object({
  backend: z.enum(["d1", "vectorize"]),
  vectors: z.number().int().nullable().describe("The agent's vectors (null: the backend does not say)"),
  embedder: z.string().nullable(),
  dim: z.number().int().nullable(),
  search: z
    .enum(["exact", "sketch", "scan", "service", "none"])
    .describe(
      "exact: cosine over every vector, from the isolate's copy; sketch: Hamming distance over binary sketches in the isolate, the best candidates re-ranked by exact cosine; " +
        "scan: every vector read from D1 (an agent too large for a sketch); service: Vectorize; none: no vectors",
    ),
});
export type IndexDescription = z.output<typeof IndexDescriptionSchema>;

export interface VectorIndex {
  describe(appId: string, agentId: string): Promise<IndexDescription>;
  upsert(records: VectorRecord[]): Promise<void>;
  query(q: VectorQuery): Promise<VectorMatch[]>;
  getByIds(appId: string, ids: string[]): Promise<VectorRecord[]>;
  deleteByIds(appId: string, ids: string[]): Promise<void>;
  /** The embedder (name, dimension) of the agent's vectors; undefined when it has none or the index cannot tell. */
  embedderOf(appId: string, agentId: string): Promise<{ embedder: string; dim: number } | undefined>;
}

/** Vectors of one agent must come from one embedder (same name, same dimension). */
export class EmbeddingMismatchError extends DomainError {
  /** The embedder of the agent's vectors, when a query from another met them. */
  readonly stored: { embedder: string; dim: number } | undefined;

  constructor(message: string, stored?: { embedder: string; dim: number }) {
    super("conflict", "embedding_mismatch", message);
    this.stored = stored;
  }
}

/** A query must come from the embedder of the agent's vectors. */
export function checkQuery(q: VectorQuery, vectors: { embedder: string; dim: number }): void {
  if (vectors.embedder !== q.embedder || vectors.dim !== q.vector.length) {
    throw new EmbeddingMismatchError(
      `agent '${q.agentId}' has vectors from ${vectors.embedder} (${vectors.dim} dimensions); the query is from ${q.embedder} (${q.vector.length}): re-embed its memories or keep one embedder`,
      { embedder: vectors.embedder, dim: vectors.dim },
    );
  }
}

/** Whether a vector of `versionId` serves a query of `asking`. */
export function inScope(versionId: string | null, asking: string | null): boolean {
  return versionId === null || versionId === asking;
}
