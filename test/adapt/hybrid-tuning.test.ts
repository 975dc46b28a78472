/**
 * performance_tuning of a hybrid version: its language model's answers replay
 * too (estimated by their mean reward where the threshold would route an
 * input elsewhere), and its threshold is one of the settings searched.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { FAKE_LLM_URL } from "../fake-openai.ts";
import { call } from "../helpers.ts";
import { simulate, STREAM, trainWeakAgent } from "./simulate.ts";

const AGENT = "hybrid-tune";
const WRONG = "I cannot help with that.";

beforeAll(async () => {
  expect((await call("setLLMCredentials", { api_key: "sk-test-hybrid", base_url: FAKE_LLM_URL })).status).toBe(200);
  await trainWeakAgent(AGENT, 6, 3);
  expect((await call("configureAgent", { agent_id: AGENT, exploration: { strategy: "softmax", rate: 0.2 } })).status).toBe(200);
  // A model that is always wrong, asked whenever the network is below 0.8.
  const v = await call<{ version: number }>("configureAnswerer", { agent_id: AGENT, answerer: { mode: "hybrid", model: `fake-answer:${WRONG}`, hybrid_threshold: 0.8 }, deploy: "immediate" });
  expect(v.status, JSON.stringify(v.body)).toBe(201);
  await simulate(AGENT, STREAM);
  await simulate(AGENT, STREAM);
}, 240_000);

describe("performance_tuning of a hybrid version", () => {
  it("lowers the threshold when the model answers worse than the network would, and the tuned version does better on fresh executions", async () => {
    const llm = await env.DB.prepare("SELECT count(*) AS n FROM executions WHERE agent_id = ? AND source = 'llm'").bind(AGENT).first<{ n: number }>();
    expect(llm!.n).toBeGreaterThan(50);
    const model = await env.DB.prepare("SELECT count(*) AS n FROM executions WHERE agent_id = ? AND source = 'model'").bind(AGENT).first<{ n: number }>();
    expect(model!.n).toBeGreaterThan(50);
    const r = await call<{ status: string; gate: { candidate: { value: number }; current: { value: number }; reason: string } }>("adaptAgentBehavior", { agent_id: AGENT, adaptation_strategy: "performance_tuning" });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect(["promoted", "candidate"], JSON.stringify(r.body.gate)).toContain(r.body.status);
    expect(r.body.gate.candidate.value).toBeGreaterThan(r.body.gate.current.value);
    const tuned = await env.DB.prepare("SELECT params, kind, version FROM agent_versions WHERE agent_id = ? ORDER BY version DESC LIMIT 1").bind(AGENT).first<{ params: string; kind: string; version: number }>();
    expect(tuned!.kind).toBe("performance_tuning");
    const params = JSON.parse(tuned!.params) as { answerer: { mode: string; hybrid_threshold: number; model: string } };
    expect(params.answerer).toMatchObject({ mode: "hybrid", model: `fake-answer:${WRONG}` });
    expect(params.answerer.hybrid_threshold).toBeLessThan(0.8);
    expect(r.body.gate.reason).toMatch(/hybrid_threshold/);
    // Measured, not estimated: the same fresh stream through each version (exploring no more, so each answer is the version's own).
    expect((await call("configureAgent", { agent_id: AGENT, exploration: { strategy: "none" } })).status).toBe(200);
    const fresh = STREAM.filter((_, i) => i % 3 === 0);
    const rate = async (version: number) => {
      let right = 0;
      for (const e of fresh) if ((await call<{ output: string }>("executeAgent", { agent_id: AGENT, input: e.input, version })).body.output === e.expected_output) right++;
      return right / fresh.length;
    };
    const [after, before] = [await rate(tuned!.version), await rate(2)];
    expect(after).toBeGreaterThan(before);
  }, 120_000);
});
