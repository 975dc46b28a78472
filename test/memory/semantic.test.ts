import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import manifest from "../../src/base/glove-en.manifest.json";
import { wordBase } from "../../src/base/glove.ts";
import { LocalHashEmbedder, LocalSemanticEmbedder } from "../../src/memory/embedder.ts";
import { createMemories, memoryServices, searchMemories } from "../../src/memory/store.ts";
import { call, request } from "../helpers.ts";

interface Hit {
  memory: { id: string; content: Record<string, unknown> };
  similarity: number;
}

const PLANS = ["starter", "basic", "team", "business", "enterprise", "family", "student", "annual", "monthly", "legacy"];
const FEATURES = ["two seats", "priority support", "offline sync", "audit logs", "single sign-on", "shared folders", "custom domains", "extra storage", "api access", "daily backups"];
/** 300 notes about plans (what each includes, how to switch), none about what they cost. */
const distractors = Array.from({ length: 300 }, (_, i) => {
  const plan = PLANS[i % PLANS.length];
  const feature = FEATURES[Math.floor(i / PLANS.length) % FEATURES.length];
  const forms = [`The ${plan} plan includes ${feature}`, `Customers on ${plan} plans can add ${feature}`, `Switching plans: ${plan} users keep ${feature}`];
  return `${forms[Math.floor(i / 100)]} (note ${i})`;
});
const RULE = "Pricing rule: quote costs only from the pricing page";
const QUERY = "what should I say about the price of plans?";

describe("the built-in base and semantic memory search", () => {
  it("loads the base the manifest describes", () => {
    const base = wordBase();
    expect(base.name).toBe(manifest.name);
    expect(base.size).toBe(manifest.words);
    expect(base.dim).toBe(manifest.dim);
    expect(base.row("pricing")).toBeGreaterThanOrEqual(0);
    expect(base.row("didnt")).toBeGreaterThanOrEqual(0);
  });

  it("the semantic embedder puts words of like meaning together where the lexical one cannot", async () => {
    const sem = new LocalSemanticEmbedder();
    const lex = new LocalHashEmbedder();
    const dot = (x: Float32Array, y: Float32Array) => x.reduce((s, v, i) => s + v * y[i], 0);
    const [a, b, c] = await sem.embed(["my card was stolen", "someone took my credit card", "how do I change my address"]);
    expect(dot(a, a)).toBeCloseTo(1, 5);
    expect(dot(a, b)).toBeGreaterThan(dot(a, c) + 0.1);
    const [la, lb] = await lex.embed(["my card was stolen", "someone took my credit card"]);
    expect(dot(a, b)).toBeGreaterThan(dot(la, lb));
    // Unknown words and typos still count through the hashed n-grams.
    const [t1, t2, t3] = await sem.embed(["xqzzyv refund", "xqzzyv refnd", "weather forecast"]);
    expect(dot(t1, t2)).toBeGreaterThan(dot(t1, t3));
    expect(sem.name).toBe("local-glove-384");
  });

  it("maps the semantic embedder's cosines onto the scale the decision thresholds were set on", () => {
    const sem = new LocalSemanticEmbedder();
    expect(sem.calibrate(0.612)).toBeCloseTo(0.5, 6);
    expect(sem.calibrate(0.711)).toBeCloseTo(0.6, 6);
    expect(sem.calibrate(1)).toBe(1);
    // Monotone: rankings do not change, only where thresholds fall.
    const xs = Array.from({ length: 201 }, (_, i) => -1 + i / 100);
    for (let i = 1; i < xs.length; i++) expect(sem.calibrate(xs[i])).toBeGreaterThan(sem.calibrate(xs[i - 1]));
    // A raw 0.55 of the semantic embedder is below the rule threshold (0.5 on the lexical scale).
    expect(sem.calibrate(0.55)).toBeLessThan(0.5);
    expect("calibrate" in new LocalHashEmbedder()).toBe(false);
  });

  it("finds the rule about pricing when asked about the price of plans, among 300 notes about plans", async () => {
    const agent = "sem-paraphrase";
    const bulk = await request<{ id: string }[]>("POST", "/entities/AgentMemory/bulk", [
      ...distractors.map((text) => ({ agent_id: agent, memory_type: "semantic", content: { text }, importance: 50 })),
      { agent_id: agent, memory_type: "procedural", content: { text: RULE }, importance: 50 },
    ]);
    expect(bulk.status).toBe(201);
    const r = await request<{ results: Hit[] }>("POST", "/entities/AgentMemory/search", { agent_id: agent, query: QUERY, top_k: 3 });
    expect(r.status).toBe(200);
    expect(r.body.results[0].memory.content.text).toBe(RULE);
    // No word in common: the lexical embedder ranks a note about plans first.
    const lex = new LocalHashEmbedder();
    const [q, rule, ...notes] = await lex.embed([QUERY, RULE, ...distractors]);
    const dot = (x: Float32Array, y: Float32Array) => x.reduce((s, v, i) => s + v * y[i], 0);
    expect(Math.max(...notes.map((n) => dot(n, q)))).toBeGreaterThan(dot(rule, q));
  });

  it("an agent embedded by the lexical embedder keeps working, and reembedAgentMemories moves it to the default", async () => {
    const agent = "sem-legacy";
    const legacy = memoryServices({ ...env, EMBEDDINGS: "local-hash" }, () => crypto.randomUUID());
    await createMemories(legacy, "default", [
      { agentId: agent, memoryType: "semantic", content: { text: "Refunds take five business days" }, importance: 50, confidence: 1, tags: [] },
      { agentId: agent, memoryType: "semantic", content: { text: "Cards ship within a week" }, importance: 50, confidence: 1, tags: [] },
    ]);
    const stored = async () => (await env.DB.prepare("SELECT DISTINCT embedder FROM memory_vectors WHERE agent_id = ?").bind(agent).all<{ embedder: string }>()).results.map((r) => r.embedder);
    expect(await stored()).toEqual(["local-hash-384"]);
    // The default services (semantic) search and write with the agent's own embedder.
    const current = memoryServices(env, () => crypto.randomUUID());
    expect((await searchMemories(current, "default", { agentId: agent, query: "refunds", topK: 1, versionId: null }))[0].memory.content.text).toBe("Refunds take five business days");
    await createMemories(current, "default", [{ agentId: agent, memoryType: "semantic", content: { text: "Top-ups arrive at once" }, importance: 50, confidence: 1, tags: [] }]);
    expect(await stored()).toEqual(["local-hash-384"]);

    const moved = await call<{ from: string; to: string; memories: number }>("reembedAgentMemories", { agent_id: agent });
    expect(moved.status).toBe(200);
    expect(moved.body).toEqual({ agent_id: agent, from: "local-hash-384", to: "local-glove-384", memories: 3 });
    expect(await stored()).toEqual(["local-glove-384"]);
    const hits = await request<{ results: Hit[] }>("POST", "/entities/AgentMemory/search", { agent_id: agent, query: "how many days for a reimbursement", top_k: 1 });
    expect(hits.body.results[0].memory.content.text).toBe("Refunds take five business days");
    expect((await call("reembedAgentMemories", { agent_id: "" })).status).toBe(400);
  });
});
