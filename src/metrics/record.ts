/** The service's own metric points, written inside the batch of the event they measure (so a redone step records nothing twice). */
import { sql, type SQL } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { evaluations, metricPoints, trainingRuns, type METRIC_TYPES } from "../db/schema.ts";

export interface ServicePoint {
  appId: string;
  agentId: string;
  type: (typeof METRIC_TYPES)[number];
  name: string;
  /** A number, or an SQL expression over the event's row. */
  value: number | SQL;
  at: number;
}

/** Inserts of `points`, each only while `holds` — a condition on the row of `table` that ends the event (a run, an evaluation) — holds. */
export function pointsWhile(db: Db, table: typeof trainingRuns | typeof evaluations, holds: SQL, points: readonly ServicePoint[]) {
  return points.map((p) =>
    db.insert(metricPoints).select(
      db
        .select({
          id: sql<number>`NULL`.as("id"),
          appId: sql<string>`${p.appId}`.as("app_id"),
          agentId: sql<string>`${p.agentId}`.as("agent_id"),
          type: sql<string>`${p.type}`.as("type"),
          name: sql<string>`${p.name}`.as("name"),
          value: (typeof p.value === "number" ? sql<number>`${p.value}` : sql<number>`${p.value}`).as("value"),
          source: sql<string>`'service'`.as("source"),
          at: sql<number>`${p.at}`.as("at"),
        })
        .from(table)
        .where(holds),
    ),
  );
}
