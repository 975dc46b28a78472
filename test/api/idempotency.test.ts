/**
 * Idempotency-Key on function calls: a retried call with the same key gets
 * the first answer (and starts nothing new); the key with another request is
 * refused; a call still running answers 409; 5xx answers are not kept.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "../../src/storage/hash.ts";
import { countRows, FAQ_TRAIN, request, SMALL, waitForRun } from "../helpers.ts";

const train = (agent: string) => ({ agent_id: agent, training_data: FAQ_TRAIN.slice(0, 30), config: { ...SMALL, epochs: 1, seed: 1 } });

describe("Idempotency-Key", () => {
  it("a retried trainAgent with the same key answers the first run and starts no other", async () => {
    const runs = await countRows("training_runs");
    const first = await request<{ run_id: string }>("POST", "/functions/trainAgent", train("idem-bot"), env.API_KEY, { "idempotency-key": "order-1" });
    expect(first.status).toBe(202);
    const again = await request<{ run_id: string }>("POST", "/functions/trainAgent", train("idem-bot"), env.API_KEY, { "idempotency-key": "order-1" });
    expect([again.status, again.body.run_id, again.headers.get("idempotent-replayed")]).toEqual([202, first.body.run_id, "true"]);
    expect(await countRows("training_runs")).toBe(runs + 1);
    await waitForRun(first.body.run_id);
    // The same key with another request is refused; another key starts another run.
    const other = await request<{ error: { code: string } }>("POST", "/functions/trainAgent", train("idem-bot-2"), env.API_KEY, { "idempotency-key": "order-1" });
    expect([other.status, other.body.error.code]).toEqual([422, "idempotency_key_reused"]);
    const fresh = await request<{ run_id: string }>("POST", "/functions/trainAgent", train("idem-bot"), env.API_KEY, { "idempotency-key": "order-2" });
    expect(fresh.status).toBe(202);
    expect(fresh.body.run_id).not.toBe(first.body.run_id);
    await waitForRun(fresh.body.run_id);
  });

  it("keeps a 4xx answer for the key, answers 409 while the first call runs, and refuses a malformed key", async () => {
    const bad = { agent_id: "idem-bad", training_data: [] };
    const a = await request<{ error: { code: string } }>("POST", "/functions/trainAgent", bad, env.API_KEY, { "idempotency-key": "bad-1" });
    const b = await request<{ error: { code: string } }>("POST", "/functions/trainAgent", bad, env.API_KEY, { "idempotency-key": "bad-1" });
    expect([a.status, b.status, b.body.error.code, b.headers.get("idempotent-replayed")]).toEqual([400, 400, a.body.error.code, "true"]);
    // A first call still running (its row without an answer yet).
    const hash = await sha256Hex(new TextEncoder().encode(`getMetrics\n${JSON.stringify({ name: "executions" })}`));
    await env.DB.prepare("INSERT INTO idempotency_keys (app_id, key, request_sha256, status, response, created_at) VALUES ('default', 'running-1', ?, 0, '', ?)").bind(hash, Date.now()).run();
    const busy = await request<{ error: { code: string } }>("POST", "/functions/getMetrics", { name: "executions" }, env.API_KEY, { "idempotency-key": "running-1" });
    expect([busy.status, busy.body.error.code, busy.headers.get("retry-after")]).toEqual([409, "idempotency_key_in_use", "1"]);
    const malformed = await request<{ error: { issues: { path: string }[] } }>("POST", "/functions/getMetrics", { name: "executions" }, env.API_KEY, { "idempotency-key": "x".repeat(300) });
    expect([malformed.status, malformed.body.error.issues[0].path]).toEqual([400, "Idempotency-Key"]);
  });

  it("keys are per app", async () => {
    const made = await request<{ key: { key: string } }>("POST", "/admin/apps", { name: "idem-other" }, env.ADMIN_SECRET);
    const mine = await request<{ run_id: string }>("POST", "/functions/trainAgent", train("idem-app"), env.API_KEY, { "idempotency-key": "shared-key" });
    const theirs = await request<{ run_id: string }>("POST", "/functions/trainAgent", train("idem-app"), made.body.key.key, { "idempotency-key": "shared-key" });
    expect([mine.status, theirs.status]).toEqual([202, 202]);
    expect(theirs.body.run_id).not.toBe(mine.body.run_id);
    await waitForRun(mine.body.run_id);
    await waitForRun(theirs.body.run_id, 60_000, made.body.key.key);
  });
});
