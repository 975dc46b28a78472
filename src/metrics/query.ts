/** The query of a metric series (getMetrics and GET /metrics share it). */
import { z } from "zod";
import type { Db } from "../db/client.ts";
import type { Env } from "../env.ts";
import { METRIC_TYPES } from "../db/schema.ts";
import { findAgent } from "../agent/versions.ts";
import { invalidInput } from "../errors.ts";
import { AgentIdSchema } from "../functions/common.ts";
import { MEASURED_METRICS, metricSeries } from "./series.ts";
import { DEFAULT_METRICS_RAW_DAYS } from "./retention.ts";

const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };
export const MAX_BUCKETS = 1_000;

export const metricSeriesInput = z
  .object({
    name: z.string().min(1).max(64).describe(`A metric name; measured by the service from its tables: ${Object.keys(MEASURED_METRICS).join(", ")}; else recorded ones (recordMetric, training.*, evaluation.*)`),
    agent_id: AgentIdSchema.optional(),
    type: z.enum(METRIC_TYPES).optional(),
    from: z.iso.datetime({ offset: true }).optional().describe("Default: 24 hours before `to`"),
    to: z.iso.datetime({ offset: true }).optional().describe("Default: now"),
    bucket: z.string().regex(/^\d{1,4}[mhd]$/, "bucket must look like 5m, 1h or 1d").default("1h"),
  })
  .strict();

export const MetricSeriesSchema = z.object({
  name: z.string(),
  agent_id: z.string().nullable(),
  bucket_ms: z.number().int(),
  from: z.string(),
  to: z.string(),
  source: z.string(),
  buckets: z.array(z.object({ start: z.string(), count: z.number().int(), mean: z.number(), p50: z.number(), p95: z.number() })),
});

export async function seriesFor(db: Db, env: Env, appId: string, input: z.output<typeof metricSeriesInput>, now: number): Promise<z.output<typeof MetricSeriesSchema>> {
  if (input.agent_id) await findAgent(db, appId, input.agent_id);
  const to = input.to ? Date.parse(input.to) : now;
  const from = input.from ? Date.parse(input.from) : to - 86_400_000;
  const bucketMs = Number(input.bucket.slice(0, -1)) * UNITS[input.bucket.slice(-1)];
  if (bucketMs <= 0) throw invalidInput([{ path: "bucket", message: "bucket must be longer than 0" }]);
  if (from >= to) throw invalidInput([{ path: "from", message: "from must be before to" }]);
  if ((to - from) / bucketMs > MAX_BUCKETS) throw invalidInput([{ path: "bucket", message: `from–to spans more than ${MAX_BUCKETS} buckets of ${input.bucket}: widen the bucket or narrow the range` }]);
  const rawDays = Number(env.METRICS_RAW_DAYS ?? DEFAULT_METRICS_RAW_DAYS);
  const rawSince = now - (Number.isFinite(rawDays) && rawDays > 0 ? rawDays : DEFAULT_METRICS_RAW_DAYS) * 86_400_000;
  const { source, buckets } = await metricSeries(db, { appId, agentId: input.agent_id, type: input.type, name: input.name, from, to, bucketMs }, Math.floor(rawSince / 3_600_000) * 3_600_000);
  return { name: input.name, agent_id: input.agent_id ?? null, bucket_ms: bucketMs, from: new Date(from).toISOString(), to: new Date(to).toISOString(), source, buckets };
}
