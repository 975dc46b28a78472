/**
 * Who is calling: a Bearer token is the deployment's local key (`API_KEY`,
 * every scope in the local app), the deployment's admin secret
 * (`ADMIN_SECRET`, the admin API only), or an app's key (stored as SHA-256 in
 * D1 with its scopes; revoked or expired keys are refused).
 */
import type { Db } from "../db/client.ts";
import type { Env } from "../env.ts";
import type { AuditEntry } from "../security/audit.ts";
import type { Access } from "./access.ts";
import { checkKey, keyDigest } from "../security/keys.ts";
import { SCOPES, type Scope } from "../security/scopes.ts";
import { quotasOf, UNLIMITED, type Quotas, type RecentRequests } from "../security/quotas.ts";

export const LOCAL_APP_ID = "default";

export interface Principal {
  /** The key's id; "local" for API_KEY, "admin" for ADMIN_SECRET. */
  keyId: string;
  /** The app the key belongs to; null for the deployment's admin secret. */
  appId: string | null;
  scopes: readonly Scope[];
  /** The agents the key reaches; null: all of the app's. */
  agents: readonly string[] | null;
  quotas: Quotas;
  /** The key's requests in the last minute (for its rate limit; absent for the deployment's own secrets). */
  recent?: RecentRequests;
}

export interface AppEnv {
  Bindings: Env;
  /** appId and principal: set by the guard; audit and route: the request's audit entry and matched route (set by guard.ts's audit). */
  Variables: { appId: string; principal: Principal; audit: AuditEntry; route: { hono: string | null; path: string; access: Access | undefined } };
}

export type Authentication = { ok: true; principal: Principal } | { ok: false; code: "unknown_key" | "revoked_key" | "expired_key"; message: string };

async function sameSecret(digest: ArrayBuffer, secret: string | undefined): Promise<boolean> {
  // Digests have one length, so the comparison takes the same time whatever the token.
  return !!secret && crypto.subtle.timingSafeEqual(digest, await keyDigest(secret));
}

export async function authenticate(env: Env, db: Db, token: string, now: number): Promise<Authentication> {
  const digest = await keyDigest(token);
  if (await sameSecret(digest, env.API_KEY)) return { ok: true, principal: { keyId: "local", appId: LOCAL_APP_ID, scopes: SCOPES, agents: null, quotas: UNLIMITED } };
  if (await sameSecret(digest, env.ADMIN_SECRET)) return { ok: true, principal: { keyId: "admin", appId: null, scopes: ["admin"], agents: null, quotas: UNLIMITED } };
  const check = await checkKey(db, digest, now);
  if (check.ok) return { ok: true, principal: { keyId: check.row.id, appId: check.row.appId, scopes: check.row.scopes, agents: check.row.agents, quotas: quotasOf(check.row, env), recent: check.recent } };
  if (check.reason === "revoked") return { ok: false, code: "revoked_key", message: "the API key was revoked" };
  if (check.reason === "expired") return { ok: false, code: "expired_key", message: "the API key has expired (it was rotated or given an end): use its replacement" };
  return { ok: false, code: "unknown_key", message: "the API key is not valid" };
}
