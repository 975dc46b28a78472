/**
 * Upkeep never resolves a conflict toward the older memory, and never merges
 * memories that mean different things (other classes, other answers).
 */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import worker from "../../src/index.ts";
import { LocalHashEmbedder } from "../../src/memory/embedder.ts";
import { memoryText } from "../../src/memory/scoring.ts";
import { call, FAQ_TRAIN, request, SMALL, waitForRun } from "../helpers.ts";

async function cron(): Promise<void> {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron: "*/5 * * * *" }), env, ctx);
  await waitOnExecutionContext(ctx);
}

const cosine = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i], 0);
const embedder = new LocalHashEmbedder();
const similarity = (a: Record<string, unknown>, b: Record<string, unknown>) => cosine(embedder.embedOne(memoryText(a)), embedder.embedOne(memoryText(b)));

async function ids(agentId: string): Promise<string[]> {
  const r = await request<{ id: string }[]>("GET", `/entities/AgentMemory?filter=${encodeURIComponent(JSON.stringify({ agent_id: agentId }))}&limit=500`);
  expect(r.status).toBe(200);
  return r.body.map((m) => m.id).sort();
}

describe("upkeep and conflicting memories", () => {
  beforeAll(async () => {
    const started = await call<{ run_id: string }>("trainAgent", { agent_id: "canada-bot", training_data: FAQ_TRAIN.slice(0, 40), config: { ...SMALL, epochs: 1, seed: 2 } });
    expect((await waitForRun(started.body.run_id)).status).toBe("succeeded");
  });

  it("a newer rule with the same trigger answers, before and after the cron, even when less important", async () => {
    const old = await request<{ id: string }>("POST", "/entities/AgentMemory", {
      agent_id: "canada-bot",
      memory_type: "procedural",
      content: { when: "Do you ship to Canada?", answer: "No, we only ship within the US." },
      confidence: 1,
      importance: 95,
    });
    await new Promise((r) => setTimeout(r, 20));
    const newer = await request<{ id: string }>("POST", "/entities/AgentMemory", {
      agent_id: "canada-bot",
      memory_type: "procedural",
      content: { when: "Do you ship to Canada?", answer: "Yes, since November we ship to Canada." },
      confidence: 1,
      importance: 60,
    });
    expect([old.status, newer.status]).toEqual([201, 201]);
    const ask = () => call<{ output: string; source: string }>("executeAgent", { agent_id: "canada-bot", input: "Do you ship to Canada?" });
    expect((await ask()).body).toMatchObject({ source: "rule", output: "Yes, since November we ship to Canada." });
    await cron();
    expect((await ask()).body).toMatchObject({ source: "rule", output: "Yes, since November we ship to Canada." });
    // Both stay: the conflict is not resolved by deleting either.
    expect((await request("GET", `/entities/AgentMemory/${newer.body.id}`)).status).toBe(200);
    expect((await request("GET", `/entities/AgentMemory/${old.body.id}`)).status).toBe(200);
  });

  it("near-identical memories of different classes or answers are never merged; true duplicates still are", async () => {
    const pattern = (c: string) => ({ type: "learned_pattern", class: c, pattern: "card, arrive, card arrive, not arrived, delivery of my card", phrases: ["card", "arrive"] });
    const demo = (out: string) => ({ type: "demo", input: "Where is my new card?", expected_output: out });
    // The precondition of the test: these pairs are near-duplicates for the embedder (cosine ≥ 0.95).
    expect(similarity(pattern("card_arrival"), pattern("card_delivery_estimate"))).toBeGreaterThanOrEqual(0.95);
    expect(similarity(demo("It is on its way."), demo("Cards take 5 days."))).toBeGreaterThanOrEqual(0.95);
    const items = [
      { memory_type: "semantic", content: pattern("card_arrival") },
      { memory_type: "semantic", content: pattern("card_delivery_estimate") },
      { memory_type: "episodic", content: demo("It is on its way.") },
      { memory_type: "episodic", content: demo("Cards take 5 days.") },
      { memory_type: "semantic", content: { text: "The customer prefers email contact" } },
      { memory_type: "semantic", content: { text: "the customer prefers EMAIL contact!" } },
    ].map((m) => ({ agent_id: "merge-bot", ...m }));
    const created = await request<{ id: string }[]>("POST", "/entities/AgentMemory/bulk", items);
    expect(created.status).toBe(201);
    const before = await ids("merge-bot");
    expect(before).toHaveLength(6);
    await cron();
    const after = await ids("merge-bot");
    // Only the two phrasings of one fact became one (made together, the smaller id stays).
    expect(after).toHaveLength(5);
    const gone = before.filter((id) => !after.includes(id));
    const email = [created.body[4].id, created.body[5].id].sort();
    expect(gone).toEqual([email[1]]);
    await cron();
    expect(await ids("merge-bot")).toEqual(after);
  });
});
