/** Bearer API keys: the local app's key from `API_KEY`, or an app's key (SHA-256) in D1. */
import { eq } from "drizzle-orm";
import { createMiddleware } from "hono/factory";
import { database } from "../db/client.ts";
import { apiKeys } from "../db/schema.ts";
import type { Env } from "../env.ts";
import { sha256Hex } from "../storage/objects.ts";
import { ApiError } from "./errors.ts";

export const LOCAL_APP_ID = "default";

export interface AppEnv {
  Bindings: Env;
  Variables: { appId: string };
}

function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

export async function appForKey(env: Env, key: string): Promise<string | null> {
  const hash = await sha256Hex(new TextEncoder().encode(key));
  if (env.API_KEY && constantTimeEqual(hash, await sha256Hex(new TextEncoder().encode(env.API_KEY)))) return LOCAL_APP_ID;
  const row = await database(env.DB).query.apiKeys.findFirst({ where: eq(apiKeys.keyHash, hash) });
  return row?.appId ?? null;
}

export const requireApiKey = createMiddleware<AppEnv>(async (c, next) => {
  const header = c.req.header("authorization");
  const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!m) throw new ApiError(401, "unauthorized", "missing API key: send the header Authorization: Bearer <key>");
  const appId = await appForKey(c.env, m[1]);
  if (!appId) throw new ApiError(401, "unauthorized", "the API key is not valid");
  c.set("appId", appId);
  await next();
});
