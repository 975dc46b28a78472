/** GET /metrics: a metric as a time series (count, mean, p50, p95 per bucket). */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { database } from "../db/client.ts";
import { metricSeriesInput, MetricSeriesSchema, seriesFor } from "../metrics/query.ts";
import type { AppEnv } from "./auth.ts";
import { ERROR_RESPONSES, SECURITY } from "./responses.ts";

export function registerMetrics(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/metrics",
      tags: ["metrics"],
      summary: "A metric as a time series: count, mean, p50 and p95 per bucket, computed in SQL",
      security: SECURITY,
      request: { query: metricSeriesInput },
      responses: { 200: { description: "The series", content: { "application/json": { schema: MetricSeriesSchema } } }, ...ERROR_RESPONSES },
    }),
    async (c) => c.json(await seriesFor(database(c.env.DB), c.env, c.get("appId"), c.req.valid("query"), Date.now()), 200),
  );
}
