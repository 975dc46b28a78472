/**
 * Feedback in: the signed webhook (Standard Webhooks: signature, tolerance,
 * replay, rotation) and submitFeedback; foreign or unknown executions answer
 * 404 and nothing is written; a correction is used at once.
 */
import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { signWebhook } from "../../src/feedback/webhooks.ts";
import { sha256Hex } from "../../src/storage/hash.ts";
import { call, countRows, FAQ_TRAIN, SMALL, waitForRun } from "../helpers.ts";

const OTHER_KEY = "fb-other-app-key";

interface Exec {
  execution_id: string;
  output: string;
  source: string;
}

async function deliver(body: string, opts: { secret: string; id?: string; at?: number; signature?: string }) {
  const id = opts.id ?? `msg_${crypto.randomUUID()}`;
  const ts = Math.floor((opts.at ?? Date.now()) / 1000);
  const signature = opts.signature ?? (await signWebhook(opts.secret, id, ts, body));
  const res = await exports.default.fetch(
    new Request("http://archon.test/webhooks/feedback/default", {
      method: "POST",
      headers: { "content-type": "application/json", "webhook-id": id, "webhook-timestamp": String(ts), "webhook-signature": signature },
      body,
    }),
  );
  return { status: res.status, body: await res.json<Record<string, unknown>>(), replay: res.headers.get("webhook-replay") };
}

const footprint = async () => [await countRows("feedback"), await countRows("webhook_deliveries"), await countRows("agent_memories")];

describe("feedback", () => {
  let secret: string;
  let executions: Exec[];
  let foreign: Exec;

  beforeAll(async () => {
    const started = await call<{ run_id: string }>("trainAgent", { agent_id: "fb-bot", training_data: FAQ_TRAIN.slice(0, 60), config: { ...SMALL, epochs: 2, seed: 1 } });
    expect((await waitForRun(started.body.run_id)).status).toBe("succeeded");
    executions = [];
    for (const q of ["where is my parcel", "reset my password", "do you ship abroad", "cancel my order"]) executions.push((await call<Exec>("executeAgent", { agent_id: "fb-bot", input: q })).body);
    const rotated = await call<{ secret: string; webhook_url_path: string }>("rotateWebhookSecret", {});
    expect(rotated.status).toBe(201);
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.webhook_url_path).toBe("/webhooks/feedback/default");
    secret = rotated.body.secret;
    // Another app's execution.
    await env.DB.prepare("INSERT INTO api_keys (key_hash, app_id) VALUES (?, 'fb-other-app')").bind(await sha256Hex(new TextEncoder().encode(OTHER_KEY))).run();
    const theirs = await call<{ run_id: string }>("trainAgent", { agent_id: "fb-bot", training_data: FAQ_TRAIN.slice(0, 60), config: { ...SMALL, epochs: 1, seed: 2 } }, OTHER_KEY);
    expect((await waitForRun(theirs.body.run_id, 60_000, OTHER_KEY)).status).toBe("succeeded");
    foreign = (await call<Exec>("executeAgent", { agent_id: "fb-bot", input: "hello" }, OTHER_KEY)).body;
  });

  it("accepts a correctly signed delivery and records it", async () => {
    const body = JSON.stringify({ execution_id: executions[0].execution_id, feedback: "correct", user_satisfaction: 0.9 });
    const r = await deliver(body, { secret });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ recorded: 1, execution_ids: [executions[0].execution_id] });
    const row = await env.DB.prepare("SELECT label, user_satisfaction, via FROM feedback WHERE execution_id = ?").bind(executions[0].execution_id).first();
    expect(row).toEqual({ label: "correct", user_satisfaction: 0.9, via: "webhook" });
  });

  it("refuses bad and stale signatures with 401, storing nothing; accepts within the tolerance", async () => {
    const body = JSON.stringify({ execution_id: executions[1].execution_id, feedback: "incorrect" });
    const before = await footprint();
    expect((await deliver(body, { secret, signature: "v1,AAAA" })).status).toBe(401);
    expect((await deliver(body, { secret: "whsec_" + btoa("not the secret at all, 32 bytes!!") })).status).toBe(401);
    const tampered = await deliver(body, { secret, signature: await signWebhook(secret, "msg_x", Math.floor(Date.now() / 1000), body.replace("incorrect", "correct")), id: "msg_x" });
    expect(tampered.status).toBe(401);
    expect((await deliver(body, { secret, at: Date.now() - 6 * 60_000 })).status).toBe(401);
    expect((await deliver(body, { secret, at: Date.now() + 6 * 60_000 })).status).toBe(401);
    expect(await footprint()).toEqual(before);
    expect((await deliver(body, { secret, at: Date.now() - 4 * 60_000 })).status).toBe(200);
  });

  it("answers a repeated webhook-id as the first time, changing nothing", async () => {
    const id = "msg_replay_1";
    const first = await deliver(JSON.stringify({ execution_id: executions[2].execution_id, reward: 0.25 }), { secret, id });
    expect(first.status).toBe(200);
    const before = await footprint();
    const again = await deliver(JSON.stringify({ execution_id: executions[2].execution_id, reward: 1 }), { secret, id });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(again.replay).toBe("true");
    expect(await footprint()).toEqual(before);
    expect((await env.DB.prepare("SELECT reward FROM feedback WHERE execution_id = ?").bind(executions[2].execution_id).first<{ reward: number }>())!.reward).toBe(0.25);
  });

  it("rotation: the old secret signs during its grace period, then not; the new one does", async () => {
    const body = JSON.stringify({ execution_id: executions[3].execution_id, feedback: "helpful" });
    const rotated = await call<{ secret: string; previous: { id: string }[] }>("rotateWebhookSecret", { grace_hours: 1 });
    expect(rotated.body.previous).toHaveLength(1);
    expect((await deliver(body, { secret })).status).toBe(200); // old, in grace
    expect((await deliver(body, { secret: rotated.body.secret })).status).toBe(200); // new
    const listed = await call<{ secrets: { expires_at: string | null }[] }>("listWebhookSecrets", {});
    expect(listed.body.secrets.filter((s) => s.expires_at === null)).toHaveLength(1);
    expect(JSON.stringify(listed.body)).not.toContain("whsec_");
    await call("rotateWebhookSecret", { grace_hours: 0 });
    expect((await deliver(body, { secret: rotated.body.secret })).status).toBe(401); // rotated out at once
    secret = ((await call<{ secret: string }>("rotateWebhookSecret", {})).body).secret;
  });

  it("a foreign or unknown execution answers 404 and nothing of the batch is written", async () => {
    const before = await footprint();
    const foreignOne = await call<{ error: { message: string } }>("submitFeedback", { execution_id: foreign.execution_id, feedback: "correct" });
    expect(foreignOne.status).toBe(404);
    const batch = await call("submitFeedback", [
      { execution_id: executions[0].execution_id, feedback: "incorrect", correct_output: "Something else" },
      { execution_id: "exe_" + "0".repeat(24), feedback: "correct" },
    ]);
    expect(batch.status).toBe(404);
    const viaWebhook = await deliver(JSON.stringify({ execution_id: foreign.execution_id, feedback: "correct" }), { secret });
    expect(viaWebhook.status).toBe(404);
    expect(await footprint()).toEqual([before[0], before[1] + 1, before[2]]); // only the delivery is remembered (as answered)
    expect((await call("submitFeedback", { execution_id: executions[0].execution_id })).status).toBe(400);
  });

  it("a correction is used at once for the same question", async () => {
    const asked = (await call<Exec>("executeAgent", { agent_id: "fb-bot", input: "do you ship abroad" })).body;
    const r = await call<{ corrections: number }>("submitFeedback", { execution_id: asked.execution_id, feedback: "incorrect", correct_output: "Yes, we ship to 40 countries." });
    expect(r.status).toBe(200);
    expect(r.body.corrections).toBe(1);
    const again = await call<Exec>("executeAgent", { agent_id: "fb-bot", input: "Do you ship abroad?" });
    expect(again.body).toMatchObject({ output: "Yes, we ship to 40 countries.", source: "demo" });
  });
});
