/** The cron trigger and the dead-letter queue, through the Worker's own handlers and the real queue consumer. */
import { createExecutionContext, createMessageBatch, createScheduledController, getQueueResult, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import worker from "../../src/index.ts";
import { expect, it } from "vitest";
import { database } from "../../src/db/client.ts";
import type { Env } from "../../src/env.ts";
import { trainAgent } from "../../src/functions/trainAgent.ts";
import { FAQ_TRAIN, SMALL, waitForRun } from "../helpers.ts";
import { UNLIMITED } from "../../src/security/quotas.ts";

async function cron(): Promise<void> {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron: "*/5 * * * *" }), env, ctx);
  await waitOnExecutionContext(ctx);
}

it("the cron watchdog revives a run whose first step message was lost, and it completes", async () => {
  const lost: unknown[] = [];
  const noQueue: Env = { ...env, STEPS: { send: async (m: unknown) => void lost.push(m) } as unknown as Env["STEPS"] };
  const { run_id } = await trainAgent.handler(
    { env: noQueue, db: database(env.DB), appId: "default", actor: "local", quotas: UNLIMITED, now: () => Date.now(), waitUntil: () => {} },
    trainAgent.input.parse({ agent_id: "cron-bot", training_data: FAQ_TRAIN.slice(0, 40), config: { ...SMALL, epochs: 2, seed: 5 } }),
  );
  expect(lost).toHaveLength(1);
  // Not stale yet: the watchdog leaves it alone.
  await cron();
  await new Promise((r) => setTimeout(r, 300));
  expect((await env.DB.prepare("SELECT status FROM training_runs WHERE id = ?").bind(run_id).first<{ status: string }>())!.status).toBe("queued");
  // Eleven minutes without a committed step: re-enqueued, and the real consumer trains it.
  await env.DB.prepare("UPDATE training_runs SET updated_at = ? WHERE id = ?").bind(Date.now() - 11 * 60_000, run_id).run();
  await cron();
  expect((await waitForRun(run_id)).status).toBe("succeeded");
});

it("a step that exhausted its retries reaches the dead-letter consumer, which fails the run with the last error", async () => {
  const noQueue: Env = { ...env, STEPS: { send: async () => {} } as unknown as Env["STEPS"] };
  const { run_id } = await trainAgent.handler(
    { env: noQueue, db: database(env.DB), appId: "default", actor: "local", quotas: UNLIMITED, now: () => Date.now(), waitUntil: () => {} },
    trainAgent.input.parse({ agent_id: "dlq-bot", training_data: FAQ_TRAIN.slice(0, 40), config: { ...SMALL, epochs: 2, seed: 5 } }),
  );
  await env.DB.prepare("UPDATE training_runs SET last_error = 'step 1, attempt 6: R2 unavailable' WHERE id = ?").bind(run_id).run();
  const batch = createMessageBatch("archon-training-steps-dlq", [{ id: "m1", timestamp: new Date(), attempts: 1, body: { run_id, seq: 1 } }]);
  const ctx = createExecutionContext();
  await worker.queue(batch, env, ctx);
  const result = await getQueueResult(batch, ctx);
  expect(result.explicitAcks).toEqual(["m1"]);
  const run = (await env.DB.prepare("SELECT status, error FROM training_runs WHERE id = ?").bind(run_id).first<{ status: string; error: string }>())!;
  expect(run.status).toBe("failed");
  expect(run.error).toBe("step 1 failed after all retries: step 1, attempt 6: R2 unavailable");
});
