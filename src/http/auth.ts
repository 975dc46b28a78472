/** Bearer API keys: the local app's key from `API_KEY`, or an app's key (stored as SHA-256) in D1. */
import { eq } from "drizzle-orm";
import { createMiddleware } from "hono/factory";
import { database } from "../db/client.ts";
import { apiKeys } from "../db/schema.ts";
import type { Env } from "../env.ts";
import { sha256, toHex } from "../storage/objects.ts";
import { ApiError } from "./errors.ts";

export const LOCAL_APP_ID = "default";

export interface AppEnv {
  Bindings: Env;
  Variables: { appId: string };
}

const utf8 = new TextEncoder();

export async function appForKey(env: Env, key: string): Promise<string | null> {
  const digest = await sha256(utf8.encode(key));
  // Digests have one length, so the comparison takes the same time whatever the key.
  if (env.API_KEY && crypto.subtle.timingSafeEqual(digest, await sha256(utf8.encode(env.API_KEY)))) return LOCAL_APP_ID;
  const row = await database(env.DB).query.apiKeys.findFirst({ where: eq(apiKeys.keyHash, toHex(digest)) });
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
