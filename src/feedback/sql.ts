/**
 * The feedback metrics of model/adaptation.ts (success, satisfaction) as SQL
 * over an execution `e` left-joined with its feedback `f`, so that arms of
 * experiments and metric series aggregate in D1 instead of reading every row.
 * test/deploy/metric-sql.test.ts checks they agree with the TypeScript
 * definitions on every kind of feedback.
 */
import { sql, type SQL } from "drizzle-orm";

/** Whitespace trimmed as String.prototype.trim does for the characters answers hold. */
const trim = (col: SQL) => sql`trim(${col}, ' ' || char(9) || char(10) || char(13))`;

export const successSql = sql`(CASE
  WHEN f.label = 'correct' THEN 1.0
  WHEN f.label = 'incorrect' THEN 0.0
  WHEN f.correct_output IS NOT NULL THEN (CASE WHEN ${trim(sql`f.correct_output`)} = ${trim(sql`e.output`)} THEN 1.0 ELSE 0.0 END)
  WHEN f.reward IS NOT NULL THEN f.reward
  WHEN f.label = 'helpful' THEN 1.0
  WHEN f.label = 'unhelpful' THEN 0.0
END)`;

export const satisfactionSql = sql`COALESCE(f.user_satisfaction, CASE WHEN f.label = 'helpful' THEN 1.0 WHEN f.label = 'unhelpful' THEN 0.0 END, ${successSql})`;

export const EXPERIMENT_METRICS = ["success", "satisfaction", "latency"] as const;
export type ExperimentMetric = (typeof EXPERIMENT_METRICS)[number];

/** The per-execution value of a metric (null: no feedback that says it). */
export function metricSql(metric: ExperimentMetric): SQL {
  return metric === "success" ? successSql : metric === "satisfaction" ? satisfactionSql : sql`e.latency_ms`;
}
