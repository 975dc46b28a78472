/** recordMetric and GET /metrics: buckets computed in SQL, the service's own metrics, roll-ups, and errors. */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { rollUpMetrics } from "../../src/metrics/retention.ts";
import { call, countRows, FAQ_TRAIN, request, SMALL, waitForRun } from "../helpers.ts";

interface Series {
  bucket_ms: number;
  source: string;
  buckets: { start: string; count: number; mean: number; p50: number; p95: number }[];
}

const HOUR = 3_600_000;

describe("metrics", () => {
  it("answers recorded metrics per bucket with count, mean, p50 and p95 as computed by hand", async () => {
    const t0 = Math.floor(Date.now() / HOUR) * HOUR - 3 * HOUR;
    // Hour 1: the values 1..20; hour 2: 100 and 200.
    for (let v = 1; v <= 20; v++) expect((await call("recordMetric", { type: "custom", metrics: { "queue.depth": v }, at: new Date(t0 + v * 1000).toISOString() })).status).toBe(201);
    await call("recordMetric", { type: "custom", metrics: { "queue.depth": 100 }, at: new Date(t0 + HOUR + 5).toISOString() });
    await call("recordMetric", { type: "custom", metrics: { "queue.depth": 200 }, at: new Date(t0 + HOUR + 6).toISOString() });
    const q = `/metrics?name=queue.depth&from=${encodeURIComponent(new Date(t0).toISOString())}&to=${encodeURIComponent(new Date(t0 + 3 * HOUR).toISOString())}&bucket=1h`;
    const r = await request<Series>("GET", q);
    expect(r.status).toBe(200);
    expect(r.body.bucket_ms).toBe(HOUR);
    expect(r.body.buckets).toEqual([
      { start: new Date(t0).toISOString(), count: 20, mean: 10.5, p50: 10, p95: 19 },
      { start: new Date(t0 + HOUR).toISOString(), count: 2, mean: 150, p50: 100, p95: 200 },
    ]);
    // The same through the function.
    const f = await call<Series>("getMetrics", { name: "queue.depth", from: new Date(t0).toISOString(), to: new Date(t0 + 3 * HOUR).toISOString(), bucket: "1h" });
    expect(f.body.buckets).toEqual(r.body.buckets);

    // Rolled up into hours (and deleted), the series is the same for whole-hour buckets.
    const before = await countRows("metric_points");
    const rolled = await rollUpMetrics(env.DB, t0 + 2 * HOUR);
    expect(rolled).toBeGreaterThanOrEqual(22);
    expect(await countRows("metric_points")).toBe(before - rolled);
    const rollups = await env.DB.prepare("SELECT count(*) AS n FROM metric_rollups WHERE name = 'queue.depth'").first<{ n: number }>();
    expect(rollups!.n).toBe(2);
  });

  it("measures executions, feedback and training runs itself", async () => {
    const run = await call<{ run_id: string }>("trainAgent", { agent_id: "metric-bot", training_data: FAQ_TRAIN.slice(0, 40), config: { ...SMALL, epochs: 1, seed: 1 } });
    expect((await waitForRun(run.body.run_id)).status).toBe("succeeded");
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await call<{ execution_id: string }>("executeAgent", { agent_id: "metric-bot", input: FAQ_TRAIN[i].input })).body.execution_id);
    await call("submitFeedback", ids.map((id, i) => ({ execution_id: id, feedback: i < 4 ? "correct" : "incorrect" })));
    const latency = await call<Series>("getMetrics", { name: "latency_ms", agent_id: "metric-bot", bucket: "1d" });
    expect(latency.status).toBe(200);
    expect(latency.body.buckets.reduce((s, b) => s + b.count, 0)).toBe(6);
    const accuracy = await call<Series>("getMetrics", { name: "accuracy", agent_id: "metric-bot", bucket: "1d" });
    const n = accuracy.body.buckets.reduce((s, b) => s + b.count, 0);
    expect(n).toBe(6);
    expect(accuracy.body.buckets.reduce((s, b) => s + b.mean * b.count, 0) / n).toBeCloseTo(4 / 6, 12);
    const duration = await call<Series>("getMetrics", { name: "training.duration_ms", agent_id: "metric-bot", bucket: "1d" });
    expect(duration.body.buckets.reduce((s, b) => s + b.count, 0)).toBe(1);
    expect(duration.body.buckets[0].mean).toBeGreaterThan(0);
    const steps = await call<Series>("getMetrics", { name: "step_ms", agent_id: "metric-bot", bucket: "1d" });
    expect(steps.body.buckets.reduce((s, b) => s + b.count, 0)).toBeGreaterThanOrEqual(1);
  });

  it("refuses bad metrics and queries with 400 naming the field, and foreign agents with 404", async () => {
    const before = await countRows("metric_points");
    const bad = await call<{ error: { issues: { path: string }[] } }>("recordMetric", { type: "custom", metrics: { "Bad Name": 1 } });
    expect(bad.status).toBe(400);
    expect((await call("recordMetric", { type: "nope", metrics: { a: 1 } })).status).toBe(400);
    expect((await call("recordMetric", { type: "custom", metrics: { a: "1" } })).status).toBe(400);
    expect((await call("recordMetric", { type: "custom", metrics: {} })).status).toBe(400);
    expect((await call("recordMetric", { type: "custom", agent_id: "nobody", metrics: { a: 1 } })).status).toBe(404);
    const future = await call<{ error: { issues: { path: string }[] } }>("recordMetric", { type: "custom", metrics: { a: 1 }, at: "2999-01-01T00:00:00Z" });
    expect(future.status).toBe(400);
    expect(future.body.error.issues[0].path).toBe("at");
    expect(await countRows("metric_points")).toBe(before);
    expect((await request("GET", "/metrics?name=a&bucket=1x")).status).toBe(400);
    expect((await request("GET", "/metrics?name=a&bucket=1m&from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z")).status).toBe(400);
    expect((await request("GET", "/metrics?name=a&agent_id=nobody")).status).toBe(404);
  });
});
