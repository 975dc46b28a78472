/**
 * Feedback webhooks, signed the Standard Webhooks way
 * (https://www.standardwebhooks.com): headers `webhook-id`,
 * `webhook-timestamp` (Unix seconds) and `webhook-signature` — a
 * space-separated list of `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` —
 * with a secret `whsec_<base64 key>`. A timestamp more than 5 minutes off is
 * refused (replays of old deliveries); a webhook-id seen before answers as it
 * did the first time and changes nothing. An app's secrets are created and
 * rotated through the API; during a rotation the old one stays valid for a
 * grace period, so both sign.
 */
import { and, eq, gt, isNull, or } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { webhookDeliveries, webhookSecrets } from "../db/schema.ts";

export const WEBHOOK_TOLERANCE_SECONDS = 300;
const SECRET_PREFIX = "whsec_";
const utf8 = new TextEncoder();

const toBase64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const fromBase64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

/** A new secret: whsec_ and 32 random bytes in base64. */
export function newWebhookSecret(): string {
  return SECRET_PREFIX + toBase64(crypto.getRandomValues(new Uint8Array(32)));
}

/** `v1,<signature>` of a delivery with `secret` (the signature an app's sender computes). */
export async function signWebhook(secret: string, id: string, timestamp: number, body: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", fromBase64(secret.slice(SECRET_PREFIX.length)), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = await crypto.subtle.sign("HMAC", key, utf8.encode(`${id}.${timestamp}.${body}`));
  return `v1,${toBase64(new Uint8Array(mac))}`;
}

export type Verdict = { ok: true } | { ok: false; reason: string };

/** Whether `headers` sign `body` with one of `secrets`, at a timestamp within tolerance of `now` (ms). */
export async function verifyWebhook(secrets: readonly string[], headers: { id?: string; timestamp?: string; signature?: string }, body: string, now: number): Promise<Verdict> {
  const { id, timestamp, signature } = headers;
  if (!id || !timestamp || !signature) return { ok: false, reason: "missing webhook-id, webhook-timestamp or webhook-signature" };
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: "webhook-timestamp must be Unix seconds" };
  const ts = Number(timestamp);
  if (Math.abs(now / 1000 - ts) > WEBHOOK_TOLERANCE_SECONDS) return { ok: false, reason: `webhook-timestamp is more than ${WEBHOOK_TOLERANCE_SECONDS / 60} minutes from now` };
  const given = signature
    .split(" ")
    .filter((s) => s.startsWith("v1,"))
    .map((s) => s.slice(3));
  for (const secret of secrets) {
    const expected = (await signWebhook(secret, id, ts, body)).slice(3);
    for (const g of given) if (g.length === expected.length && crypto.subtle.timingSafeEqual(utf8.encode(g), utf8.encode(expected))) return { ok: true };
  }
  return { ok: false, reason: "no valid signature" };
}

/** The app's secrets that sign now: the current one, and a rotated one within its grace period. */
export async function validSecrets(db: Db, appId: string, now: number): Promise<string[]> {
  const rows = await db
    .select({ secret: webhookSecrets.secret })
    .from(webhookSecrets)
    .where(and(eq(webhookSecrets.appId, appId), or(isNull(webhookSecrets.expiresAt), gt(webhookSecrets.expiresAt, now))));
  return rows.map((r) => r.secret);
}

/** A new current secret; the previous current one stays valid for `graceMs`. Returns the new secret (shown once). */
export async function rotateSecret(db: Db, appId: string, id: string, now: number, graceMs: number): Promise<{ secret: string; previous: { id: string; expires_at: number }[] }> {
  const current = await db
    .select({ id: webhookSecrets.id })
    .from(webhookSecrets)
    .where(and(eq(webhookSecrets.appId, appId), isNull(webhookSecrets.expiresAt)));
  const secret = newWebhookSecret();
  await db.batch([
    db
      .update(webhookSecrets)
      .set({ expiresAt: now + graceMs })
      .where(and(eq(webhookSecrets.appId, appId), isNull(webhookSecrets.expiresAt))),
    db.insert(webhookSecrets).values({ appId, id, secret, createdAt: now, expiresAt: null }),
  ]);
  return { secret, previous: current.map((c) => ({ id: c.id, expires_at: now + graceMs })) };
}

/** The answer a webhook-id got the first time, if it was seen before. */
export async function priorDelivery(db: Db, appId: string, webhookId: string): Promise<{ status: number; response: string } | undefined> {
  const [row] = await db
    .select({ status: webhookDeliveries.status, response: webhookDeliveries.response })
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.appId, appId), eq(webhookDeliveries.webhookId, webhookId)));
  return row;
}

export async function rememberDelivery(db: Db, appId: string, webhookId: string, status: number, response: string, now: number): Promise<void> {
  await db.insert(webhookDeliveries).values({ appId, webhookId, status, response, createdAt: now }).onConflictDoNothing();
}
