/**
 * What the execution cache would have done on recorded traffic, before it is
 * switched on: the version's recorded executions replayed in time order
 * through a cache of the given TTL (cleared whenever one of the agent's
 * memories was added or changed, as the triggers would have; deletions leave
 * no trace and are not seen). Reported: the share of executions it would have
 * answered, how often the recorded answer of a would-be hit equals the cached
 * one (below 1 when the answer changed within the TTL: memories ranked anew,
 * exploration, inputs that normalize alike but were answered apart), and the
 * mean latency of the executions it would have spared.
 */
import { and, asc, desc, eq, gte } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "../db/client.ts";
import { agentMemories, executions } from "../db/schema.ts";
import type { ExecutionContext } from "../model/context.ts";
import { cacheKey } from "./cache.ts";

export interface TrafficRow {
  input: string;
  context: ExecutionContext | null;
  output: string;
  explored: boolean;
  latencyMs: number;
  createdAt: number;
}

export const CacheEstimateSchema = z.object({
  ttl_seconds: z.number(),
  executions: z.number().describe("Recorded executions of the version replayed (the latest)"),
  hits: z.number(),
  hit_rate: z.number(),
  agreement: z.number().nullable().describe("Of the would-be hits, the share whose recorded answer is the cached one"),
  hit_latency_ms: z.number().nullable().describe("Mean recorded latency of the would-be hits: what the cache spares, less its lookup"),
});
export type CacheEstimate = z.infer<typeof CacheEstimateSchema>;

/** Replays `rows` (time order) through a cache of `ttlSeconds`, cleared at each time in `clears` (ascending). */
export function estimateCache(rows: readonly TrafficRow[], ttlSeconds: number, contextFeatures: boolean, clears: readonly number[] = []): CacheEstimate {
  const entries = new Map<string, { at: number; output: string }>();
  let hits = 0;
  let agree = 0;
  let latency = 0;
  let c = 0;
  for (const r of rows) {
    for (; c < clears.length && clears[c] <= r.createdAt; c++) entries.clear();
    const key = cacheKey(r.input, r.context ?? undefined, contextFeatures);
    const e = entries.get(key);
    if (e && r.createdAt - e.at < ttlSeconds * 1000) {
      hits++;
      latency += r.latencyMs;
      if (e.output === r.output) agree++;
    } else if (!r.explored) entries.set(key, { at: r.createdAt, output: r.output });
  }
  return {
    ttl_seconds: ttlSeconds,
    executions: rows.length,
    hits,
    hit_rate: rows.length > 0 ? hits / rows.length : 0,
    agreement: hits > 0 ? agree / hits : null,
    hit_latency_ms: hits > 0 ? latency / hits : null,
  };
}

/** Executions replayed at most (the latest). */
export const MAX_TRAFFIC_ROWS = 5_000;

/** The cache on a version's latest recorded traffic, for each TTL. */
export async function estimateOnTraffic(db: Db, at: { appId: string; agentId: string; versionId: string; contextFeatures: boolean }, ttls: readonly number[]): Promise<CacheEstimate[]> {
  const latest = await db
    .select({ input: executions.input, context: executions.context, output: executions.output, explored: executions.explored, latencyMs: executions.latencyMs, createdAt: executions.createdAt })
    .from(executions)
    .where(and(eq(executions.appId, at.appId), eq(executions.agentId, at.agentId), eq(executions.versionId, at.versionId)))
    .orderBy(desc(executions.createdAt))
    .limit(MAX_TRAFFIC_ROWS);
  const rows = latest.reverse();
  const from = rows[0]?.createdAt ?? Date.now();
  const changed = await db
    .select({ at: agentMemories.updatedAt })
    .from(agentMemories)
    .where(and(eq(agentMemories.appId, at.appId), eq(agentMemories.agentId, at.agentId), gte(agentMemories.updatedAt, from)))
    .orderBy(asc(agentMemories.updatedAt));
  const clears = changed.map((m) => m.at);
  return ttls.map((ttl) => estimateCache(rows, ttl, at.contextFeatures, clears));
}
