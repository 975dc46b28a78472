/**
 * Metric time series, computed in SQL over D1: per bucket the count, mean,
 * p50 and p95 (nearest rank, by window functions). Names measured by the
 * service from its own tables — execution latency, confidence, fallbacks
 * (the error rate), tokens and cost from `executions`; accuracy and user
 * satisfaction from feedback — and everything else from `metric_points`
 * (what apps report with recordMetric, and what the service records for runs
 * and evaluations), with hours older than the raw retention read from their
 * roll-ups.
 */
import { and, eq, gte, lt, sql, type SQL } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { metricRollups, type METRIC_TYPES } from "../db/schema.ts";
import { satisfactionSql, successSql } from "../feedback/sql.ts";

/** A metric the service measures from one of its tables: the SQL of its (at, value) rows for a query. */
interface Measured {
  describe: string;
  values: (q: SeriesQuery) => SQL;
}

const agentFilter = (col: SQL, q: SeriesQuery) => (q.agentId ? sql`AND ${col} = ${q.agentId}` : sql``);

function fromExecutions(value: SQL, withFeedback: boolean, describe: string): Measured {
  return {
    describe: `executions${withFeedback ? " with feedback" : ""}: ${describe}`,
    values: (q) => sql`
      SELECT e.created_at AS at, ${value} AS value FROM executions e
      ${withFeedback ? sql`JOIN feedback f ON f.app_id = e.app_id AND f.execution_id = e.id` : sql``}
      WHERE e.app_id = ${q.appId} ${agentFilter(sql`e.agent_id`, q)} AND e.created_at >= ${q.from} AND e.created_at < ${q.to}`,
  };
}

export const MEASURED_METRICS: Record<string, Measured & { type: (typeof METRIC_TYPES)[number] }> = {
  latency_ms: { type: "execution", ...fromExecutions(sql`e.latency_ms`, false, "executeAgent latency") },
  confidence: { type: "execution", ...fromExecutions(sql`e.confidence`, false, "calibrated confidence of the top class") },
  fallback: { type: "execution", ...fromExecutions(sql`CAST(e.fallback AS REAL)`, false, "1 when the fallback answered (mean: the error rate)") },
  tokens: { type: "execution", ...fromExecutions(sql`e.tokens`, false, "language-model tokens") },
  cost_usd: { type: "execution", ...fromExecutions(sql`e.cost_usd`, false, "language-model cost") },
  accuracy: { type: "execution", ...fromExecutions(successSql, true, "success from feedback (correct/incorrect, corrections, reward)") },
  user_satisfaction: { type: "execution", ...fromExecutions(satisfactionSql, true, "user satisfaction from feedback") },
  step_ms: {
    type: "training",
    describe: "run_steps: wall time of each committed queue step of training (the resource a run uses)",
    values: (q) => sql`
      SELECT s.created_at AS at, s.ms AS value FROM run_steps s JOIN training_runs r ON r.id = s.run_id
      WHERE s.app_id = ${q.appId} ${agentFilter(sql`r.agent_id`, q)} AND s.created_at >= ${q.from} AND s.created_at < ${q.to}`,
  },
};

export interface SeriesQuery {
  appId: string;
  agentId?: string;
  type?: (typeof METRIC_TYPES)[number];
  name: string;
  from: number;
  to: number;
  bucketMs: number;
}

export interface Bucket {
  start: string;
  count: number;
  mean: number;
  p50: number;
  p95: number;
}

interface Row {
  b: number;
  cnt: number;
  mean: number;
  p50: number;
  p95: number;
}

/** count, mean, p50, p95 of `values` (a subquery of (at, value)) per bucket. */
function aggregate(values: SQL, bucketMs: number): SQL {
  return sql`
    WITH v AS (SELECT (CAST(at AS INTEGER) / CAST(${bucketMs} AS INTEGER)) * CAST(${bucketMs} AS INTEGER) AS b, value FROM (${values}) WHERE value IS NOT NULL),
    r AS (SELECT b, value, ROW_NUMBER() OVER (PARTITION BY b ORDER BY value) AS rn, COUNT(*) OVER (PARTITION BY b) AS cnt FROM v)
    SELECT b, max(cnt) AS cnt, avg(value) AS mean,
      max(CASE WHEN rn = (cnt * 50 + 99) / 100 THEN value END) AS p50,
      max(CASE WHEN rn = (cnt * 95 + 99) / 100 THEN value END) AS p95
    FROM r GROUP BY b ORDER BY b`;
}

export async function metricSeries(db: Db, q: SeriesQuery, rawSince: number): Promise<{ source: string; buckets: Bucket[] }> {
  const measured = MEASURED_METRICS[q.name];
  const out = new Map<number, Bucket & { sum: number }>();
  const add = (r: Row) => {
    const prior = out.get(r.b);
    if (!prior) {
      out.set(r.b, { start: new Date(r.b).toISOString(), count: r.cnt, mean: r.mean, p50: r.p50, p95: r.p95, sum: r.mean * r.cnt });
      return;
    }
    // A bucket that spans rolled-up hours and raw points: counts and sums add; the percentiles are count-weighted (an approximation).
    const count = prior.count + r.cnt;
    out.set(r.b, { ...prior, count, sum: prior.sum + r.mean * r.cnt, mean: (prior.sum + r.mean * r.cnt) / count, p50: (prior.p50 * prior.count + r.p50 * r.cnt) / count, p95: (prior.p95 * prior.count + r.p95 * r.cnt) / count });
  };
  if (measured && (q.type === undefined || q.type === measured.type)) {
    for (const r of await db.all<Row>(aggregate(measured.values(q), q.bucketMs))) add(r);
    return { source: measured.describe, buckets: [...out.values()].map(({ sum: _, ...b }) => b) };
  }
  const filters = sql`app_id = ${q.appId} AND name = ${q.name} ${q.agentId ? sql`AND agent_id = ${q.agentId}` : sql``} ${q.type ? sql`AND type = ${q.type}` : sql``}`;
  const raw = sql`SELECT at, value FROM metric_points WHERE ${filters} AND at >= ${Math.max(q.from, rawSince)} AND at < ${q.to}`;
  for (const r of await db.all<Row>(aggregate(raw, q.bucketMs))) add(r);
  if (q.from < rawSince) {
    const hours = await db
      .select()
      .from(metricRollups)
      .where(
        and(
          eq(metricRollups.appId, q.appId),
          eq(metricRollups.name, q.name),
          q.agentId ? eq(metricRollups.agentId, q.agentId) : undefined,
          q.type ? eq(metricRollups.type, q.type) : undefined,
          gte(metricRollups.hour, q.from),
          lt(metricRollups.hour, Math.min(q.to, rawSince)),
        ),
      );
    for (const h of hours) add({ b: Math.floor(h.hour / q.bucketMs) * q.bucketMs, cnt: h.count, mean: h.sum / h.count, p50: h.p50, p95: h.p95 });
  }
  return { source: "metric_points (recordMetric, runs, evaluations)", buckets: [...out.values()].sort((a, b) => (a.start < b.start ? -1 : 1)).map(({ sum: _, ...b }) => b) };
}
