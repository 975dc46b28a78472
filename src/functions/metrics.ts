/** recordMetric and getMetrics (src/metrics). */
import { z } from "zod";
import { metricPoints, METRIC_TYPES } from "../db/schema.ts";
import { findAgent } from "../agent/versions.ts";
import { invalidInput } from "../errors.ts";
import { metricSeriesInput, MetricSeriesSchema, seriesFor } from "../metrics/query.ts";
import { defineFunction } from "./registry.ts";
import { AgentIdSchema } from "./common.ts";

const MetricNameSchema = z.string().regex(/^[a-z][a-z0-9_.]{0,63}$/, "metric names are lower-case letters, digits, '_' and '.', starting with a letter, at most 64 characters");

export const recordMetric = defineFunction({
  name: "recordMetric",
  summary: "Store metrics the app measured (training, execution, evaluation or custom)",
  description: "{ type, agent_id?, metrics: { name: number, … } (up to 50), at? (ISO time, default now) }. GET /metrics answers them as time series with the service's own.",
  input: z
    .object({
      type: z.enum(METRIC_TYPES, { error: `type must be one of ${METRIC_TYPES.join(", ")}` }),
      agent_id: AgentIdSchema.optional(),
      metrics: z
        .record(MetricNameSchema, z.number({ error: "each metric must be a finite number" }).finite())
        .refine((m) => Object.keys(m).length >= 1 && Object.keys(m).length <= 50, { message: "metrics must hold 1 to 50 values" }),
      at: z.iso.datetime({ offset: true }).optional().describe("When it was measured (default now); at most a day ahead"),
    })
    .strict(),
  output: z.object({ recorded: z.number().int(), at: z.string() }),
  status: 201,
  async handler(ctx, input) {
    if (input.agent_id) await findAgent(ctx.db, ctx.appId, input.agent_id);
    const now = ctx.now();
    const at = input.at ? Date.parse(input.at) : now;
    if (at > now + 86_400_000) throw invalidInput([{ path: "at", message: "at must not be more than a day ahead" }]);
    const rows = Object.entries(input.metrics).map(([name, value]) => ({ appId: ctx.appId, agentId: input.agent_id ?? null, type: input.type, name, value, source: "app", at }));
    // 50 rows × 7 columns would pass D1's 100 bound parameters: insert in chunks.
    for (let i = 0; i < rows.length; i += 12) await ctx.db.insert(metricPoints).values(rows.slice(i, i + 12));
    return { recorded: rows.length, at: new Date(at).toISOString() };
  },
});

export const getMetrics = defineFunction({
  name: "getMetrics",
  summary: "A metric as a time series: count, mean, p50, p95 per bucket",
  description: "The same as GET /metrics?name=…&agent_id=…&type=…&from=…&to=…&bucket=1h.",
  input: metricSeriesInput,
  output: MetricSeriesSchema,
  status: 200,
  async handler(ctx, input) {
    return seriesFor(ctx.db, ctx.env, ctx.appId, input, ctx.now());
  },
});
