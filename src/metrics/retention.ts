/**
 * Keeps metric_points bounded: points older than the raw retention are rolled
 * up into hourly rows (count, sum, min, max, p50, p95 per app, agent, type and
 * name) and deleted, in one atomic batch per chunk of hours, a bounded amount
 * per cron invocation.
 */
import { lt, sql } from "drizzle-orm";
import { database } from "../db/client.ts";
import { metricPoints } from "../db/schema.ts";

export const DEFAULT_METRICS_RAW_DAYS = 30;
const HOUR = 3_600_000;

/** Rolls up points older than `before` (whole hours), at most `maxHours` hours of them; returns the points rolled up. */
export async function rollUpMetrics(d1: D1Database, before: number, maxHours = 200): Promise<number> {
  const db = database(d1);
  const cutoff = Math.floor(before / HOUR) * HOUR;
  const [oldest] = await db.select({ at: sql<number | null>`min(${metricPoints.at})` }).from(metricPoints).where(lt(metricPoints.at, cutoff));
  if (oldest?.at === null || oldest?.at === undefined) return 0;
  const upTo = Math.min(cutoff, Math.floor(oldest.at / HOUR) * HOUR + maxHours * HOUR);
  const [{ n }] = await db.select({ n: sql<number>`count(*)` }).from(metricPoints).where(lt(metricPoints.at, upTo));
  // Raw statements in one D1 batch (atomic): the roll-up's window functions and upsert are beyond the query builder.
  const hour = String(HOUR);
  await d1.batch([
    d1
      .prepare(
        `INSERT INTO metric_rollups (app_id, agent_id, type, name, hour, count, sum, min, max, p50, p95)
      SELECT app_id, agent_id, type, name, hour, max(cnt), sum(value), min(value), max(value),
        max(CASE WHEN rn = (cnt * 50 + 99) / 100 THEN value END),
        max(CASE WHEN rn = (cnt * 95 + 99) / 100 THEN value END)
      FROM (
        SELECT app_id, coalesce(agent_id, '') AS agent_id, type, name, (CAST(at AS INTEGER) / ${hour}) * ${hour} AS hour, value,
          ROW_NUMBER() OVER (PARTITION BY app_id, coalesce(agent_id, ''), type, name, (CAST(at AS INTEGER) / ${hour}) ORDER BY value) AS rn,
          COUNT(*) OVER (PARTITION BY app_id, coalesce(agent_id, ''), type, name, (CAST(at AS INTEGER) / ${hour})) AS cnt
        FROM metric_points WHERE at < ?1
      ) WHERE true GROUP BY app_id, agent_id, type, name, hour
      ON CONFLICT (app_id, name, agent_id, type, hour) DO UPDATE SET
        count = count + excluded.count, sum = sum + excluded.sum, min = min(min, excluded.min), max = max(max, excluded.max),
        p50 = (p50 * count + excluded.p50 * excluded.count) / (count + excluded.count),
        p95 = (p95 * count + excluded.p95 * excluded.count) / (count + excluded.count)`,
      )
      .bind(upTo),
    d1.prepare("DELETE FROM metric_points WHERE at < ?1").bind(upTo),
  ]);
  return n;
}
