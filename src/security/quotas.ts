/**
 * Quotas of a key: requests a minute (per-minute counts in key_request_counts), training
 * runs at once (runs record the key that asked), and the bytes of datasets
 * its app may hold after the key's uploads. A key's own limit, else the
 * deployment's default; the deployment's local key and admin secret have none.
 * Over a quota: 429 with Retry-After.
 */
import { and, count, eq, inArray, lt, sql, sum } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { datasets, keyRequestCounts, trainingRuns } from "../db/schema.ts";
import { setting } from "../env.ts";
import { limited } from "../errors.ts";

export interface Quotas {
  requestsPerMinute: number | null;
  maxConcurrentRuns: number | null;
  maxStoredBytes: number | null;
}

export const UNLIMITED: Quotas = { requestsPerMinute: null, maxConcurrentRuns: null, maxStoredBytes: null };

export const DEFAULT_REQUESTS_PER_MINUTE = 1_200;
export const DEFAULT_MAX_CONCURRENT_RUNS = 10;

interface QuotaEnv {
  KEY_REQUESTS_PER_MINUTE?: string;
  KEY_MAX_CONCURRENT_RUNS?: string;
  KEY_MAX_STORED_BYTES?: string;
}

/** A key's quotas: its own, else the deployment's (KEY_MAX_STORED_BYTES unset: no storage quota). */
export function quotasOf(key: { requestsPerMinute: number | null; maxConcurrentRuns: number | null; maxStoredBytes: number | null }, env: QuotaEnv): Quotas {
  return {
    requestsPerMinute: key.requestsPerMinute ?? setting(env.KEY_REQUESTS_PER_MINUTE, DEFAULT_REQUESTS_PER_MINUTE),
    maxConcurrentRuns: key.maxConcurrentRuns ?? setting(env.KEY_MAX_CONCURRENT_RUNS, DEFAULT_MAX_CONCURRENT_RUNS),
    maxStoredBytes: key.maxStoredBytes ?? (env.KEY_MAX_STORED_BYTES ? setting(env.KEY_MAX_STORED_BYTES, Number.MAX_SAFE_INTEGER) : null),
  };
}

/** A key's requests in this minute and the one before (key_request_counts). */
export interface RecentRequests {
  current: number;
  previous: number;
}

/**
 * 429 when the key's requests in the last 60 s — estimated the sliding-window
 * way, this minute's count plus the previous minute's weighted by the share
 * of it still inside the window — reach its limit. Retry-After: until the
 * estimate falls below the limit (at most the rest of this minute).
 */
export function checkRequestRate(quotas: Quotas, recent: RecentRequests, now: number): void {
  const max = quotas.requestsPerMinute;
  if (max === null) return;
  const into = (now % 60_000) / 60_000;
  const estimate = recent.current + recent.previous * (1 - into);
  if (estimate < max) return;
  // The previous minute's weight falls linearly to 0 by the end of this one.
  const untilBelow = recent.current >= max || recent.previous === 0 ? 1 - into : Math.min(1 - into, (estimate - max + 1) / recent.previous);
  throw limited("rate_limited", `this key made about ${Math.round(estimate)} requests in the last minute, its limit is ${max}: retry after the Retry-After seconds`, Math.max(1, untilBelow * 60), { limit: max });
}

/** Counts one request of an app key, in the same batch as its audit entry. */
export function countRequest(db: Db, appId: string, keyId: string, now: number) {
  const minute = Math.floor(now / 60_000);
  return db
    .insert(keyRequestCounts)
    .values({ keyId, minute, appId, count: 1 })
    .onConflictDoUpdate({ target: [keyRequestCounts.keyId, keyRequestCounts.minute], set: { count: sql`${keyRequestCounts.count} + 1` } });
}

/** Deletes counts older than the previous minute; how many went. */
export async function pruneRequestCounts(db: Db, now: number): Promise<number> {
  const res = await db.delete(keyRequestCounts).where(lt(keyRequestCounts.minute, Math.floor(now / 60_000) - 1));
  return res.meta.changes ?? 0;
}

/** 429 when the key already has as many training runs queued or running as it may. */
export async function checkConcurrentRuns(db: Db, appId: string, keyId: string, quotas: Quotas): Promise<void> {
  const max = quotas.maxConcurrentRuns;
  if (max === null) return;
  const [{ n }] = await db
    .select({ n: count() })
    .from(trainingRuns)
    .where(and(eq(trainingRuns.appId, appId), eq(trainingRuns.requestedBy, keyId), inArray(trainingRuns.status, ["queued", "running"])));
  if (n >= max) throw limited("concurrent_runs_limit", `this key has ${n} training runs queued or running, its limit is ${max}: wait for one to end (or cancel one)`, 30, { limit: max });
}

/** 429 when storing a new dataset (`id`, `adding` bytes) would take the app past the key's storage quota; a dataset the app holds adds nothing. */
export async function checkStoredBytes(db: Db, appId: string, dataset: { id: string; bytes: number }, quotas: Quotas): Promise<void> {
  const max = quotas.maxStoredBytes;
  if (max === null) return;
  const [same] = await db
    .select({ id: datasets.id })
    .from(datasets)
    .where(and(eq(datasets.appId, appId), eq(datasets.id, dataset.id)))
    .limit(1);
  if (same) return;
  const [{ bytes }] = await db.select({ bytes: sum(datasets.bytes) }).from(datasets).where(eq(datasets.appId, appId));
  const adding = dataset.bytes;
  const held = Number(bytes ?? 0);
  if (held + adding > max) {
    throw limited("storage_quota_exceeded", `the app holds ${held} bytes of datasets; ${adding} more would pass this key's quota of ${max}: erase agents or datasets it no longer needs (deleteAgent)`, 3600, { limit: max, held });
  }
}
