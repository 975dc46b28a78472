/**
 * An agent's vectors held in the isolate (one space of the shared isolate
 * cache), valid while the agent's generation in D1 is the one they were read at.
 */
import type { MemoryType } from "../../db/schema.ts";
import { CacheSpace } from "../../isolate/cache.ts";
import { MIB } from "../../isolate/budget.ts";

export interface CachedAgent {
  generation: number;
  embedder: string;
  dim: number;
  ids: string[];
  types: MemoryType[];
  versions: (string | null)[];
  /** Row i is vectors[i·dim, (i+1)·dim). */
  vectors: Float32Array;
  norms: Float64Array;
}

/** One agent's vectors at most (16 MB: e.g. 10k vectors of 384 dimensions); a larger agent is scanned from D1. */
export const MAX_CACHED_AGENT_BYTES = 16 * MIB;

export const agentVectors = new CacheSpace<CachedAgent>("vectors", MAX_CACHED_AGENT_BYTES);

export const agentKey = (appId: string, agentId: string) => `${appId}\u0000${agentId}`;

/** Bytes an entry holds: its floats, norms and ids. */
export function entryBytes(e: CachedAgent): number {
  return e.vectors.byteLength + e.norms.byteLength + e.ids.length * 64;
}
