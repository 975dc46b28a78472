/**
 * A run that cannot fit a Worker's memory is refused up front, naming what to
 * lower; a step that dies anyway leaves its run with an error that explains it.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index.ts";
import { call, countObjects, countRows, FAQ_TRAIN } from "../helpers.ts";
import { db, startRun, type Delivery } from "./harness.ts";
import { processStep } from "../../src/training/step.ts";
import { stepDepsFor } from "./harness.ts";

interface ErrorBody {
  error: { code: string; message: string; issues?: { path: string; message: string }[] };
}

const footprint = async () => [await countRows("training_runs"), await countRows("datasets"), await countRows("agents"), await countObjects(env.DATASETS)];

describe("the memory a run needs", () => {
  it("refuses a network too large for a Worker with a 400 that says what to lower, writing nothing", async () => {
    const before = await footprint();
    const r = await call<ErrorBody>("trainAgent", { agent_id: "huge-bot", training_data: FAQ_TRAIN, config: { hidden: 1024, ensemble: 5 } });
    expect(r.status, JSON.stringify(r.body)).toBe(400);
    const issue = r.body.error.issues?.[0];
    expect(issue?.path).toBe("config.hidden");
    expect(issue?.message).toMatch(/MB/);
    expect(issue?.message).toMatch(/config\.ensemble/);
    expect(await footprint()).toEqual(before);
  });

  it("accepts a run that fits, and shows its estimate in the plan", async () => {
    const r = await call<{ plan: { memory: { peak_mb: number; budget_mb: number } } }>("trainAgent", { agent_id: "fits-bot", training_data: FAQ_TRAIN, config: { epochs: 1 } });
    expect(r.status).toBe(202);
    expect(r.body.plan.memory.peak_mb).toBeGreaterThan(0);
    expect(r.body.plan.memory.peak_mb).toBeLessThan(r.body.plan.memory.budget_mb);
  });

  it("a step whose invocation died without a word fails its run with an explanation, not 'unknown error'", async () => {
    const queue: Delivery[] = [];
    const runId = await startRun("killed-bot", queue, FAQ_TRAIN.slice(0, 40), { epochs: 1, features: { buckets: 4096 }, dim: 16, hidden: 16 });
    // The step starts (and is then killed: nothing after its start is recorded).
    const deps = stepDepsFor(queue, {
      crash: (point) => {
        if (point === "before-checkpoint") throw new Error("killed");
      },
    });
    await expect(processStep(deps, queue.shift()!.msg, 6)).rejects.toThrow("killed");
    const batch = createMessageBatch("archon-training-steps-dlq", [{ id: "m1", timestamp: new Date(), attempts: 1, body: { run_id: runId, seq: 1 } }]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env, ctx);
    await getQueueResult(batch, ctx);
    const run = (await env.DB.prepare("SELECT status, error FROM training_runs WHERE id = ?").bind(runId).first<{ status: string; error: string }>())!;
    expect(run.status).toBe("failed");
    expect(run.error).not.toMatch(/unknown error/);
    expect(run.error).toMatch(/attempt 6 .*memory \(128 MB\)/);
    void db;
  });
});
