/**
 * API keys of apps: made by the admin API, shown once, stored as SHA-256. A
 * key carries scopes and optionally the agents it reaches. Rotation makes a
 * new key with the same rights and lets the old one live for a grace period;
 * revocation ends a key at once (every request reads its row).
 */
import { and, desc, eq, gte, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { apiKeys, keyRequestCounts } from "../db/schema.ts";
import type { RecentRequests } from "./quotas.ts";
import { conflict, notFound } from "../errors.ts";
import { sha256, toHex } from "../storage/hash.ts";
import type { Scope } from "./scopes.ts";

type KeyRow = typeof apiKeys.$inferSelect;

/** Characters of a key kept in the clear (listings, audit log): "ak_" and 8 of its 32 random hex digits. */
export const KEY_PREFIX_LENGTH = 11;

export interface KeyGrant {
  scopes: Scope[];
  agents: string[] | null;
  label: string | null;
  /** Epoch ms after which the key is refused; null: until revoked. */
  expiresAt: number | null;
  /** Its own quotas (null each: the deployment's default). */
  limits: KeyLimits;
}

export interface KeyLimits {
  requestsPerMinute: number | null;
  maxConcurrentRuns: number | null;
  maxStoredBytes: number | null;
}

export interface KeyView {
  id: string;
  app_id: string;
  label: string | null;
  prefix: string | null;
  scopes: Scope[];
  agents: string[] | null;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  replaced_by: string | null;
  /** The key's own quotas (null: the deployment's default). */
  limits: { requests_per_minute: number | null; max_concurrent_runs: number | null; max_stored_bytes: number | null };
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function keyView(row: KeyRow): KeyView {
  return {
    id: row.id,
    app_id: row.appId,
    label: row.label,
    prefix: row.prefix,
    scopes: row.scopes,
    agents: row.agents,
    created_at: iso(row.createdAt) ?? "",
    expires_at: iso(row.expiresAt),
    revoked_at: iso(row.revokedAt),
    replaced_by: row.replacedBy,
    limits: { requests_per_minute: row.requestsPerMinute, max_concurrent_runs: row.maxConcurrentRuns, max_stored_bytes: row.maxStoredBytes },
  };
}

export async function keyDigest(key: string): Promise<ArrayBuffer> {
  return sha256(new TextEncoder().encode(key));
}

export function keyPrefix(key: string): string {
  return key.slice(0, KEY_PREFIX_LENGTH);
}

function newSecret(): string {
  return `ak_${toHex(crypto.getRandomValues(new Uint8Array(16)))}`;
}

function newKeyId(): string {
  return `key_${toHex(crypto.getRandomValues(new Uint8Array(12)))}`;
}

/** A new key: its secret (to show once) and its stored view. */
export async function createKey(db: Db, appId: string, grant: KeyGrant, now: number): Promise<{ key: string; view: KeyView }> {
  const key = newSecret();
  const row: KeyRow = {
    id: newKeyId(),
    keyHash: toHex(await keyDigest(key)),
    appId,
    label: grant.label,
    prefix: keyPrefix(key),
    scopes: grant.scopes,
    agents: grant.agents,
    expiresAt: grant.expiresAt,
    revokedAt: null,
    replacedBy: null,
    ...grant.limits,
    createdAt: now,
  };
  await db.insert(apiKeys).values(row);
  return { key, view: keyView(row) };
}

/** The app's keys, newest first. */
export async function listKeys(db: Db, appId: string): Promise<KeyView[]> {
  const rows = await db.select().from(apiKeys).where(eq(apiKeys.appId, appId)).orderBy(desc(apiKeys.createdAt));
  return rows.map(keyView);
}

async function findKey(db: Db, appId: string, keyId: string): Promise<KeyRow> {
  const [row] = await db
    .select()
    .from(apiKeys)
    .where(and(eq(apiKeys.appId, appId), eq(apiKeys.id, keyId)))
    .limit(1);
  if (!row) throw notFound("key", keyId);
  return row;
}

function usable(row: KeyRow, now: number): boolean {
  return row.revokedAt === null && (row.expiresAt === null || row.expiresAt > now);
}

/**
 * A new key with the old one's rights; the old one stays valid for
 * `graceMs` (0: ends now) and names its successor. Both writes land together.
 */
export async function rotateKey(db: Db, appId: string, keyId: string, graceMs: number, now: number): Promise<{ key: string; view: KeyView; previous: KeyView }> {
  const old = await findKey(db, appId, keyId);
  if (!usable(old, now)) throw conflict("key_not_active", `key '${keyId}' is revoked or expired: create a new key instead`);
  if (old.replacedBy) throw conflict("key_already_rotated", `key '${keyId}' was already rotated (to '${old.replacedBy}'): rotate that one`);
  const key = newSecret();
  const row: KeyRow = {
    ...old,
    id: newKeyId(),
    keyHash: toHex(await keyDigest(key)),
    prefix: keyPrefix(key),
    createdAt: now,
    // A key made to last N days gives its successor N days from now.
    expiresAt: old.expiresAt === null ? null : now + (old.expiresAt - old.createdAt),
    replacedBy: null,
  };
  const expiresAt = Math.min(old.expiresAt ?? Infinity, now + graceMs);
  await db.batch([db.insert(apiKeys).values(row), db.update(apiKeys).set({ expiresAt, replacedBy: row.id }).where(eq(apiKeys.id, old.id))]);
  return { key, view: keyView(row), previous: keyView({ ...old, expiresAt, replacedBy: row.id }) };
}

/** Ends the key now (idempotent: a revoked key keeps its first revocation time). */
export async function revokeKey(db: Db, appId: string, keyId: string, now: number): Promise<KeyView> {
  const row = await findKey(db, appId, keyId);
  if (row.revokedAt !== null) return keyView(row);
  await db.update(apiKeys).set({ revokedAt: now }).where(eq(apiKeys.id, row.id));
  return keyView({ ...row, revokedAt: now });
}

export type KeyCheck = { ok: true; row: KeyRow; recent: RecentRequests } | { ok: false; reason: "unknown" | "revoked" | "expired"; row: KeyRow | null };

/** The key, whether it may be used now, and its requests this minute and the last (for its rate limit): one round trip. */
export async function checkKey(db: Db, digest: ArrayBuffer, now: number): Promise<KeyCheck> {
  const hash = toHex(digest);
  const minute = Math.floor(now / 60_000);
  const [[row], counts] = await db.batch([
    db.select().from(apiKeys).where(eq(apiKeys.keyHash, hash)).limit(1),
    db
      .select({ minute: keyRequestCounts.minute, count: keyRequestCounts.count })
      .from(keyRequestCounts)
      .where(and(sql`${keyRequestCounts.keyId} = (SELECT id FROM api_keys WHERE key_hash = ${hash})`, gte(keyRequestCounts.minute, minute - 1))),
  ]);
  if (!row) return { ok: false, reason: "unknown", row: null };
  if (row.revokedAt !== null) return { ok: false, reason: "revoked", row };
  if (row.expiresAt !== null && row.expiresAt <= now) return { ok: false, reason: "expired", row };
  const of = (m: number) => counts.find((c) => c.minute === m)?.count ?? 0;
  return { ok: true, row, recent: { current: of(minute), previous: of(minute - 1) } };
}
