/**
 * The execution cache: an agent can reuse, for `ttl_seconds`, the answer its
 * version gave to the same normalized input — the input as its network and the
 * local embedder see it (model/features.ts tokenize: case, punctuation and spacing do not
 * count), with the context when the version reads it. A hit skips loading the
 * weights, searching memories and predicting; it is still recorded as an
 * execution (marked `cached`), so feedback and every report go on as before.
 *
 * Entries are per version (a rollout's two versions cache apart) and go when
 * the agent's live version changes or its memories change (triggers of
 * migration 0012), when the TTL (read at lookup: shortening it takes effect at
 * once) has passed, and at the cron's upkeep. An agent that explores never
 * reads or writes the cache: its answers are drawn, and their propensities
 * must be what the log says.
 */
import { and, eq, lt, sql } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "../db/client.ts";
import { executionCache } from "../db/schema.ts";
import { tokenize } from "../model/features.ts";
import type { ExecutionContext } from "../model/context.ts";
import type { Exploration } from "../model/policy.ts";

export const MAX_CACHE_TTL_SECONDS = 86_400;

export const ExecutionCacheSchema = z
  .object({
    ttl_seconds: z
      .number({ error: "ttl_seconds must be a number of seconds" })
      .int("ttl_seconds must be a whole number of seconds")
      .min(1, "ttl_seconds must be at least 1")
      .max(MAX_CACHE_TTL_SECONDS, `ttl_seconds must be at most ${MAX_CACHE_TTL_SECONDS} (a day)`),
  })
  .strict();
export type ExecutionCacheSettings = z.infer<typeof ExecutionCacheSchema>;

/** The key of an input: its tokens, and the context (keys sorted) when the version reads it. */
export function cacheKey(input: string, context: ExecutionContext | undefined, contextFeatures: boolean): string {
  const text = tokenize(input).join(" ");
  if (!contextFeatures || !context) return text;
  const ctx = Object.keys(context)
    .sort()
    .map((k) => [k, context[k]]);
  return `${text}\u0000${JSON.stringify(ctx)}`;
}

/** Whether executions of an agent use the cache. */
export function cacheOn(settings: ExecutionCacheSettings | null | undefined, exploration: Exploration | null | undefined): settings is ExecutionCacheSettings {
  return !!settings && (!exploration || exploration.strategy === "none" || exploration.rate === 0);
}

export interface CacheAddress {
  appId: string;
  agentId: string;
  versionId: string;
  key: string;
}

/** The cached answer for `at`, if one younger than the TTL exists. */
export async function readCache(db: Db, at: CacheAddress, ttlSeconds: number, now: number): Promise<Record<string, unknown> | null> {
  const [row] = await db
    .select({ answer: executionCache.answer })
    .from(executionCache)
    .where(
      and(
        eq(executionCache.appId, at.appId),
        eq(executionCache.agentId, at.agentId),
        eq(executionCache.versionId, at.versionId),
        eq(executionCache.key, at.key),
        sql`${executionCache.createdAt} > ${now - ttlSeconds * 1000}`,
      ),
    )
    .limit(1);
  return row?.answer ?? null;
}

/** The statement that stores an answer (replacing an expired one): batched with the execution's record. */
export function writeCache(db: Db, at: CacheAddress, answer: Record<string, unknown>, now: number) {
  return db
    .insert(executionCache)
    .values({ ...at, answer, createdAt: now })
    .onConflictDoUpdate({ target: [executionCache.appId, executionCache.agentId, executionCache.versionId, executionCache.key], set: { answer, createdAt: now } });
}

/** Upkeep: entries older than any TTL can be (at most `limit` of them). */
export async function sweepCache(db: Db, now: number, limit = 500): Promise<number> {
  const cutoff = now - MAX_CACHE_TTL_SECONDS * 1000;
  const res = await db.run(
    sql`DELETE FROM ${executionCache} WHERE rowid IN (SELECT rowid FROM ${executionCache} WHERE ${lt(executionCache.createdAt, cutoff)} LIMIT ${limit})`,
  );
  return res.meta.changes;
}
