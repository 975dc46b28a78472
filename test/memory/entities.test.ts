import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { request } from "../helpers.ts";

interface Mem {
  id: string;
  agent_id: string;
  memory_type: string;
  content: Record<string, unknown>;
  importance: number;
  tags: string[];
  access_count: number;
  last_accessed_date: string | null;
  expires_date: string | null;
  created_date: string;
}
interface Hit {
  memory: Mem;
  similarity: number;
  score: number;
}

const create = (body: unknown) => request<Mem>("POST", "/entities/AgentMemory", body);
const list = (qs: string) => request<Mem[]>("GET", `/entities/AgentMemory?${qs}`);
const vectors = async (id: string) => (await env.DB.prepare("SELECT count(*) AS n FROM memory_vectors WHERE id = ?").bind(id).first<{ n: number }>())!.n;

describe("AgentMemory entities", () => {
  it("creates, reads, updates and deletes (with its vector)", async () => {
    const c = await create({ agent_id: "mem-a", memory_type: "semantic", content: { type: "fact", text: "Refunds take five business days" }, importance: 70, tags: ["billing"] });
    expect(c.status).toBe(201);
    expect(c.body).toMatchObject({ agent_id: "mem-a", memory_type: "semantic", importance: 70, confidence: 1, tags: ["billing"], access_count: 0, expires_date: null });
    expect(await vectors(c.body.id)).toBe(1);
    expect((await request<Mem>("GET", `/entities/AgentMemory/${c.body.id}`)).body.content).toEqual({ type: "fact", text: "Refunds take five business days" });
    const u = await request<Mem>("PUT", `/entities/AgentMemory/${c.body.id}`, { importance: 90, tags: ["billing", "refund"] });
    expect(u.status).toBe(200);
    expect(u.body).toMatchObject({ importance: 90, tags: ["billing", "refund"] });
    expect((await request("DELETE", `/entities/AgentMemory/${c.body.id}`)).status).toBe(200);
    expect((await request("GET", `/entities/AgentMemory/${c.body.id}`)).status).toBe(404);
    expect(await vectors(c.body.id)).toBe(0);
  });

  it("rejects invalid records with field paths", async () => {
    const r = await create({ agent_id: "mem-a", memory_type: "dream", content: "text", importance: 150 });
    expect(r.status).toBe(400);
    const paths = (r.body as unknown as { error: { issues: { path: string }[] } }).error.issues.map((i) => i.path).sort();
    expect(paths).toEqual(["content", "importance", "memory_type"]);
    const bulk = await request("POST", "/entities/AgentMemory/bulk", [{ agent_id: "mem-a", memory_type: "semantic", content: {} }, { agent_id: "mem-a", memory_type: "semantic", content: {}, tags: [""] }]);
    expect(bulk.status).toBe(400);
    expect(JSON.stringify(bulk.body)).toContain("1.tags.0");
  });

  it("bulk creates, filters by agent, type and tag, sorts and pages", async () => {
    const items = Array.from({ length: 12 }, (_, i) => ({
      agent_id: "mem-list",
      memory_type: i % 3 === 0 ? "procedural" : "semantic",
      content: { text: `note ${i}` },
      importance: i * 5,
      tags: i % 2 === 0 ? ["even"] : ["odd"],
    }));
    const b = await request<Mem[]>("POST", "/entities/AgentMemory/bulk", items);
    expect(b.status).toBe(201);
    expect(b.body).toHaveLength(12);
    const f = (o: object) => encodeURIComponent(JSON.stringify(o));
    expect((await list(`filter=${f({ agent_id: "mem-list" })}&limit=100`)).body).toHaveLength(12);
    expect((await list(`filter=${f({ agent_id: "mem-list", memory_type: "procedural" })}`)).body).toHaveLength(4);
    expect((await list(`filter=${f({ agent_id: "mem-list", tags: "even" })}`)).body).toHaveLength(6);
    const byImportance = (await list(`filter=${f({ agent_id: "mem-list" })}&sort=-importance&limit=3`)).body.map((m) => m.importance);
    expect(byImportance).toEqual([55, 50, 45]);
    const page2 = (await list(`filter=${f({ agent_id: "mem-list" })}&sort=importance&limit=5&skip=5`)).body.map((m) => m.importance);
    expect(page2).toEqual([25, 30, 35, 40, 45]);
    expect((await list(`filter=${f({ agent_id: "mem-list", colour: "red" })}`)).status).toBe(400);
    expect((await list(`filter=notjson`)).status).toBe(400);
    expect((await list(`sort=height`)).status).toBe(400);
  });

  it("search finds the right memory among distractors, never another agent's, and counts the access", async () => {
    const distractors = [
      "The store opens at nine on weekdays",
      "Gift cards never expire",
      "Express shipping costs twelve dollars",
      "Passwords are reset from the security settings page",
      "We ship to forty countries",
      "Damaged items are replaced for free",
    ];
    await request("POST", "/entities/AgentMemory/bulk", distractors.map((text) => ({ agent_id: "mem-search", memory_type: "semantic", content: { text } })));
    const target = await create({ agent_id: "mem-search", memory_type: "procedural", content: { rule: "when asked about a refund delay, say refunds take five business days after the return arrives" }, importance: 80 });
    // Another agent holds an even closer memory: it must not leak.
    await create({ agent_id: "mem-other", memory_type: "procedural", content: { rule: "refund delay refunds take five business days" }, importance: 100 });
    const r = await request<{ results: Hit[] }>("POST", "/entities/AgentMemory/search", { agent_id: "mem-search", query: "why is my refund delayed?", top_k: 3 });
    expect(r.status).toBe(200);
    expect(r.body.results[0].memory.id).toBe(target.body.id);
    expect(r.body.results.every((h) => h.memory.agent_id === "mem-search")).toBe(true);
    expect(r.body.results[0].score).toBeLessThanOrEqual(r.body.results[0].similarity);
    const only = await request<{ results: Hit[] }>("POST", "/entities/AgentMemory/search", { agent_id: "mem-search", query: "refund", memory_types: ["semantic"], top_k: 10 });
    expect(only.body.results.every((h) => h.memory.memory_type === "semantic")).toBe(true);
    const again = await request<Mem>("GET", `/entities/AgentMemory/${target.body.id}`);
    expect(again.body.access_count).toBe(1);
    expect(again.body.last_accessed_date).not.toBeNull();
    const high = await request<{ results: Hit[] }>("POST", "/entities/AgentMemory/search", { agent_id: "mem-search", query: "refund", min_score: 0.99 });
    expect(high.body.results).toEqual([]);
  });

  it("working memories get an expiry; expired ones are not returned by search", async () => {
    const w = await create({ agent_id: "mem-work", memory_type: "working", content: { text: "the customer is asking about order 1234" } });
    expect(w.body.expires_date).not.toBeNull();
    const search = () => request<{ results: Hit[] }>("POST", "/entities/AgentMemory/search", { agent_id: "mem-work", query: "order 1234" });
    expect((await search()).body.results).toHaveLength(1);
    await env.DB.prepare("UPDATE agent_memories SET expires_at = ? WHERE id = ?").bind(Date.now() - 1000, w.body.id).run();
    expect((await search()).body.results).toHaveLength(0);
  });

  it("refuses vectors of another dimension for the same agent", async () => {
    await create({ agent_id: "mem-dim", memory_type: "semantic", content: { text: "first" } });
    await env.DB.prepare("UPDATE memory_vectors SET dim = 1536, embedder = 'openai:text-embedding-3-small' WHERE agent_id = 'mem-dim'").run();
    const r = await create({ agent_id: "mem-dim", memory_type: "semantic", content: { text: "second" } });
    expect(r.status).toBe(409);
    expect(JSON.stringify(r.body)).toMatch(/1536/);
    expect((await list(`filter=${encodeURIComponent(JSON.stringify({ agent_id: "mem-dim" }))}`)).body).toHaveLength(1);
  });
});
