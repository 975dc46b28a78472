/** Training writes memory; executeAgent retrieves it, reports it, and lets rules and demos answer. */
import { describe, expect, it } from "vitest";
import type { ExecuteResult } from "../../src/agent/execute.ts";
import { call, FAQ_TRAIN, request, SMALL, waitForRun } from "../helpers.ts";

interface Mem {
  id: string;
  memory_type: string;
  content: Record<string, unknown>;
  learned_from: string | null;
}

describe("memory-aware agents", () => {
  it("a run writes learned patterns and demos; executeAgent uses them and rules override", async () => {
    const started = await call<{ run_id: string }>("trainAgent", { agent_id: "mem-faq", training_data: FAQ_TRAIN, config: { epochs: 8, seed: 3, validation_split: 0.2 } });
    const run = await waitForRun(started.body.run_id);
    expect(run.status).toBe("succeeded");

    const f = (o: object) => encodeURIComponent(JSON.stringify(o));
    const patterns = (await request<Mem[]>("GET", `/entities/AgentMemory?filter=${f({ agent_id: "mem-faq", tags: "learned_pattern" })}&limit=100`)).body;
    expect(patterns).toHaveLength(24);
    expect(patterns.every((m) => m.memory_type === "semantic" && m.learned_from === run.run_id)).toBe(true);
    const pw = patterns.find((m) => String(m.content.class).includes("reset your password"))!;
    expect(pw.content.phrases).toContain("password");
    const demos = (await request<Mem[]>("GET", `/entities/AgentMemory?filter=${f({ agent_id: "mem-faq", tags: "demo" })}&limit=500`)).body;
    expect(demos).toHaveLength(FAQ_TRAIN.length);

    const asked = await call<ExecuteResult>("executeAgent", { agent_id: "mem-faq", input: "I forgot my password" });
    expect(asked.body.source).toBe("model");
    expect(asked.body.memories_used.length).toBeGreaterThan(0);
    const top = (await request<Mem>("GET", `/entities/AgentMemory/${asked.body.memories_used[0].id}`)).body;
    expect(JSON.stringify(top.content)).toMatch(/password/i);

    // A trusted procedural rule answers what the network was never taught.
    const rule = await request<Mem>("POST", "/entities/AgentMemory", {
      agent_id: "mem-faq",
      memory_type: "procedural",
      content: { type: "rule", when: "do you sell pet food", answer: "We don't sell pet food, sorry." },
      confidence: 0.95,
      importance: 90,
    });
    const ruled = await call<ExecuteResult>("executeAgent", { agent_id: "mem-faq", input: "Do you sell pet food?" });
    expect(ruled.body.source).toBe("rule");
    expect(ruled.body.output).toBe("We don't sell pet food, sorry.");
    expect(ruled.body.memories_used[0].id).toBe(rule.body.id);
    // An untrusted rule does not.
    await request("PUT", `/entities/AgentMemory/${rule.body.id}`, { confidence: 0.3 });
    expect((await call<ExecuteResult>("executeAgent", { agent_id: "mem-faq", input: "Do you sell pet food?" })).body.source).not.toBe("rule");

    // When the network is unsure, a close enough demo answers.
    await request("POST", "/entities/AgentMemory", {
      agent_id: "mem-faq",
      memory_type: "episodic",
      content: { type: "demo", input: "zorblax quantum flux capacitor", expected_output: "That part ships separately." },
    });
    const demo = await call<ExecuteResult>("executeAgent", { agent_id: "mem-faq", input: "zorblax quantum flux capacitor" });
    expect(demo.body.source).toBe("demo");
    expect(demo.body.output).toBe("That part ships separately.");
  });

  it("another agent's memories are never used", async () => {
    await request("POST", "/entities/AgentMemory", {
      agent_id: "mem-stranger",
      memory_type: "procedural",
      content: { when: "small tiny run question", answer: "stranger's answer" },
      confidence: 1,
    });
    const started = await call<{ run_id: string }>("trainAgent", { agent_id: "mem-small", training_data: FAQ_TRAIN.slice(0, 30), config: { ...SMALL, epochs: 1, seed: 1 } });
    expect(started.status).toBe(202);
    expect((await waitForRun(started.body.run_id)).status).toBe("succeeded");
    const r = await call<ExecuteResult>("executeAgent", { agent_id: "mem-small", input: "small tiny run question" });
    expect(r.status).toBe(200);
    expect(r.body.source).not.toBe("rule");
    expect(r.body.output).not.toBe("stranger's answer");
    // The agent's own memories were searched (its learned patterns and demos), and only those.
    expect(r.body.memories_used.length).toBeGreaterThan(0);
    for (const m of r.body.memories_used) {
      const got = await request<{ agent_id: string }>("GET", `/entities/AgentMemory/${m.id}`);
      expect(got.status).toBe(200);
      expect(got.body.agent_id).toBe("mem-small");
    }
  });
});
