/** Apps made through the admin API. Each starts with one key holding every scope. */
import { desc, eq } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { apps } from "../db/schema.ts";
import { notFound } from "../errors.ts";
import { toHex } from "../storage/hash.ts";
import { createKey, type KeyView } from "./keys.ts";
import { SCOPES } from "./scopes.ts";

export interface AppView {
  id: string;
  name: string;
  created_at: string;
}

const view = (row: typeof apps.$inferSelect): AppView => ({ id: row.id, name: row.name, created_at: new Date(row.createdAt).toISOString() });

export async function createApp(db: Db, name: string, now: number): Promise<{ app: AppView; key: string; key_view: KeyView }> {
  const row = { id: `app_${toHex(crypto.getRandomValues(new Uint8Array(12)))}`, name, createdAt: now };
  await db.insert(apps).values(row);
  const { key, view: keyView } = await createKey(db, row.id, { scopes: [...SCOPES], agents: null, label: "created with the app", expiresAt: null, limits: { requestsPerMinute: null, maxConcurrentRuns: null, maxStoredBytes: null } }, now);
  return { app: view(row), key, key_view: keyView };
}

export async function listApps(db: Db): Promise<AppView[]> {
  return (await db.select().from(apps).orderBy(desc(apps.createdAt))).map(view);
}

export async function findApp(db: Db, id: string): Promise<AppView> {
  const [row] = await db.select().from(apps).where(eq(apps.id, id)).limit(1);
  if (!row) throw notFound("app", id);
  return view(row);
}
