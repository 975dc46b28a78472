/**
 * The audit log: one row per API request (who, what, when, from where, how
 * it ended) and per failed authentication. Rows are kept for
 * AUDIT_RETENTION_DAYS (the cron prunes older ones).
 */
import { and, count, desc, eq, gte, lt, lte, sql, type SQL } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { auditLog } from "../db/schema.ts";

export type AuditEntry = Omit<typeof auditLog.$inferInsert, "id">;
type AuditRow = typeof auditLog.$inferSelect;

export const DEFAULT_AUDIT_RETENTION_DAYS = 90;

/** The statement that records an entry (batched with the request's count by the guard). */
export function auditInsert(db: Db, entry: AuditEntry) {
  return db.insert(auditLog).values(entry);
}

export interface AuditQuery {
  appId: string | null;
  resource?: string;
  keyId?: string;
  from?: number;
  to?: number;
  /** Rows with an id below this (the previous page's `next_cursor`). */
  before?: number;
  limit: number;
}

export interface AuditView {
  id: number;
  at: string;
  app_id: string | null;
  key_id: string | null;
  key_prefix: string | null;
  method: string;
  route: string;
  resource: string;
  resource_id: string | null;
  action: AuditRow["action"];
  status: number;
  outcome: AuditRow["outcome"];
  reason: string | null;
  ip: string | null;
  user_agent: string | null;
}

function auditView(r: AuditRow): AuditView {
  return {
    id: r.id,
    at: new Date(r.at).toISOString(),
    app_id: r.appId,
    key_id: r.keyId,
    key_prefix: r.keyPrefix,
    method: r.method,
    route: r.route,
    resource: r.resource,
    resource_id: r.resourceId,
    action: r.action,
    status: r.status,
    outcome: r.outcome,
    reason: r.reason,
    ip: r.ip,
    user_agent: r.userAgent,
  };
}

/** Entries newest first, filtered; `appId` null reads every app's (and failed authentications). */
export async function queryAudit(db: Db, q: AuditQuery): Promise<{ entries: AuditView[]; next_cursor: number | null }> {
  const where: SQL[] = [];
  if (q.appId !== null) where.push(eq(auditLog.appId, q.appId));
  if (q.resource) where.push(eq(auditLog.resource, q.resource));
  if (q.keyId) where.push(eq(auditLog.keyId, q.keyId));
  if (q.from !== undefined) where.push(gte(auditLog.at, q.from));
  if (q.to !== undefined) where.push(lte(auditLog.at, q.to));
  if (q.before !== undefined) where.push(lt(auditLog.id, q.before));
  const rows = await db
    .select()
    .from(auditLog)
    .where(and(...where))
    .orderBy(desc(auditLog.id))
    .limit(q.limit + 1);
  const page = rows.slice(0, q.limit);
  return { entries: page.map(auditView), next_cursor: rows.length > q.limit ? (page.at(-1)?.id ?? null) : null };
}

/** Failed authentications since `since` from this address, and with this key prefix (one round trip; the partial indexes hold only failures). */
export async function recentFailures(db: Db, ip: string | null, prefix: string | null, since: number): Promise<{ byIp: number; byPrefix: number }> {
  const failures = (col: typeof auditLog.ip | typeof auditLog.keyPrefix, value: string | null) =>
    db
      .select({ n: count() })
      .from(auditLog)
      // Literal, not bound: SQLite uses a partial index only when the query's terms imply its WHERE.
      .where(and(value === null ? sql`0` : eq(col, value), sql`action = 'authenticate' AND outcome = 'denied'`, gte(auditLog.at, since)));
  const [[a], [b]] = await db.batch([failures(auditLog.ip, ip), failures(auditLog.keyPrefix, prefix)]);
  return { byIp: a?.n ?? 0, byPrefix: b?.n ?? 0 };
}

/** Deletes entries older than the retention period; returns how many went. */
export async function pruneAudit(db: Db, retentionDays: number, now: number): Promise<number> {
  const res = await db.delete(auditLog).where(lt(auditLog.at, now - retentionDays * 86_400_000));
  return res.meta.changes ?? 0;
}
