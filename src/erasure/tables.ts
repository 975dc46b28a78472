/**
 * The rows an erasure deletes, table by table: every table that holds an
 * app's data, and how to find an agent's rows in it. The audit log and the
 * erasures' own reports stay (they hold ids, not data; the audit log has its
 * retention period). A test checks that every table with an app_id column is
 * here or among those two.
 */
import { sql, type SQL } from "drizzle-orm";
import type { ErasureTargets } from "./targets.ts";

export const KEPT_TABLES = ["audit_log", "erasures"] as const;

export interface Scope {
  appId: string;
  /** null: the whole app. */
  agentId: string | null;
  targets: ErasureTargets;
}

type Finder = (s: Scope & { agentId: string }) => SQL;

const inIds = (ids: readonly string[]) => sql`(SELECT value FROM json_each(${JSON.stringify(ids)}))`;
const byAgent: Finder = (s) => sql`app_id = ${s.appId} AND agent_id = ${s.agentId}`;

/**
 * Each table and how to find an agent's rows ("app": the table holds only
 * app-wide data, which an agent's erasure leaves). `appWhere` overrides
 * `app_id = ?` for an app's erasure.
 */
const TABLES: { table: string; agent: Finder | "app"; appWhere?: (s: Scope) => SQL }[] = [
  { table: "run_steps", agent: (s) => sql`app_id = ${s.appId} AND run_id IN ${inIds(s.targets.runs)}` },
  { table: "run_shards", agent: (s) => sql`app_id = ${s.appId} AND run_id IN ${inIds(s.targets.runs)}` },
  { table: "run_epochs", agent: (s) => sql`app_id = ${s.appId} AND run_id IN ${inIds(s.targets.runs)}` },
  { table: "optimization_trials", agent: (s) => sql`optimization_id IN ${inIds(s.targets.optimizations)}`, appWhere: (s) => sql`optimization_id IN ${inIds(s.targets.optimizations)}` },
  { table: "feedback", agent: byAgent },
  { table: "execution_cache", agent: byAgent },
  { table: "executions", agent: byAgent },
  { table: "memory_vectors", agent: byAgent },
  { table: "vector_changes", agent: byAgent },
  { table: "agent_memories", agent: byAgent },
  { table: "deployments", agent: byAgent },
  { table: "traffic_splits", agent: byAgent },
  { table: "evaluations", agent: byAgent },
  { table: "adaptations", agent: byAgent },
  { table: "optimizations", agent: byAgent },
  { table: "metric_points", agent: byAgent },
  { table: "metric_rollups", agent: byAgent },
  { table: "agent_versions", agent: byAgent },
  { table: "training_runs", agent: byAgent },
  { table: "dataset_versions", agent: (s) => sql`app_id = ${s.appId} AND dataset_id IN ${inIds(s.targets.datasets)}` },
  { table: "datasets", agent: (s) => sql`app_id = ${s.appId} AND id IN ${inIds(s.targets.datasets)}` },
  { table: "agents", agent: (s) => sql`app_id = ${s.appId} AND id = ${s.agentId}` },
  { table: "webhook_deliveries", agent: "app" },
  { table: "idempotency_keys", agent: "app" },
  { table: "key_request_counts", agent: "app" },
  { table: "webhook_secrets", agent: "app" },
  { table: "llm_credentials", agent: "app" },
  { table: "pii_policies", agent: "app" },
  { table: "api_keys", agent: "app" },
  { table: "data_keys", agent: "app" },
  { table: "apps", agent: "app", appWhere: (s) => sql`id = ${s.appId}` },
];

export const ERASED_TABLES = TABLES.map((t) => t.table);

/** Statements deleting at most `limit` rows each, one per table the scope touches, in order. */
export function deletions(scope: Scope, limit: number): { table: string; statement: SQL }[] {
  const out: { table: string; statement: SQL }[] = [];
  for (const t of TABLES) {
    let where: SQL;
    if (scope.agentId === null) where = t.appWhere ? t.appWhere(scope) : sql`app_id = ${scope.appId}`;
    else if (t.agent === "app") continue;
    else where = t.agent({ ...scope, agentId: scope.agentId });
    out.push({ table: t.table, statement: sql`DELETE FROM ${sql.identifier(t.table)} WHERE rowid IN (SELECT rowid FROM ${sql.identifier(t.table)} WHERE ${where} LIMIT ${limit})` });
  }
  return out;
}
