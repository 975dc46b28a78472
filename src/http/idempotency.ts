/**
 * Idempotency-Key on POST /functions/{name} (the way Stripe and the IETF
 * draft do it): the first call with a key runs and its answer is kept for a
 * day; a retry with the same key and the same request gets that answer again
 * (header `Idempotent-Replayed: true`) and runs nothing; the same key with
 * another request is 422; a retry while the first call still runs is 409 with
 * Retry-After. A 5xx answer is not kept (the retry runs). Keys are per app.
 */
import { and, eq, lt } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { idempotencyKeys } from "../db/schema.ts";
import { invalidInput } from "../errors.ts";
import { sha256Hex } from "../storage/hash.ts";
import { ApiError } from "./errors.ts";

export const IDEMPOTENCY_TTL_MS = 86_400_000;

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

export type Claim = { kind: "run"; finish: (status: number, body: string) => Promise<void>; abandon: () => Promise<void> } | { kind: "replay"; status: number; body: string };

/** Claims `key` for this request, or finds the answer it already has. */
export async function claimKey(db: Db, appId: string, key: string, fn: string, body: string, now: number): Promise<Claim> {
  if (!KEY_PATTERN.test(key)) throw invalidInput([{ path: "Idempotency-Key", message: "must be 1–255 printable ASCII characters without spaces (a UUID, say)" }]);
  const requestSha256 = await sha256Hex(new TextEncoder().encode(`${fn}\n${body}`));
  const at = and(eq(idempotencyKeys.appId, appId), eq(idempotencyKeys.key, key));
  // A key older than a day is free again.
  await db.delete(idempotencyKeys).where(and(at, lt(idempotencyKeys.createdAt, now - IDEMPOTENCY_TTL_MS)));
  const inserted = await db.insert(idempotencyKeys).values({ appId, key, requestSha256, status: 0, response: "", createdAt: now }).onConflictDoNothing();
  if ((inserted.meta.changes ?? 0) > 0) {
    return {
      kind: "run",
      finish: async (status, response) => {
        await db.update(idempotencyKeys).set({ status, response }).where(at);
      },
      abandon: async () => {
        await db.delete(idempotencyKeys).where(and(at, eq(idempotencyKeys.status, 0)));
      },
    };
  }
  const [row] = await db.select().from(idempotencyKeys).where(at).limit(1);
  if (!row) throw new ApiError(409, "idempotency_key_in_use", "the call with this Idempotency-Key has just ended without an answer: retry", { headers: { "Retry-After": "1" } });
  if (row.requestSha256 !== requestSha256) throw new ApiError(422, "idempotency_key_reused", "this Idempotency-Key was used with another request (another function or body): use a new key for a new request");
  if (row.status === 0) throw new ApiError(409, "idempotency_key_in_use", "the first call with this Idempotency-Key is still running: retry in a moment", { headers: { "Retry-After": "1" } });
  return { kind: "replay", status: row.status, body: row.response };
}

/** Deletes keys older than a day; how many went. */
export async function pruneIdempotencyKeys(db: Db, now: number): Promise<number> {
  const res = await db.delete(idempotencyKeys).where(lt(idempotencyKeys.createdAt, now - IDEMPOTENCY_TTL_MS));
  return res.meta.changes ?? 0;
}
