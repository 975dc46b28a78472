/** Language-model answerers (src/llm) against a fake OpenAI-compatible server (test/fake-openai.ts) through the real @ai-sdk/openai provider. */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { FAKE_LLM_URL } from "../fake-openai.ts";
import { call, FAQ_HELDOUT, FAQ_TRAIN, SMALL, waitForRun } from "../helpers.ts";

interface Executed {
  output: string;
  source: string;
  class: string;
  llm: { model: string; tokens_in: number; tokens_out: number; cost_usd: number; attempts: number } | null;
  llm_error: string | null;
  cached: boolean;
}

const AGENT = "llm-agent";
const answerer = (mode: string, model: string, extra: Record<string, unknown> = {}) => ({ mode, model, price: { input_per_mtok: 1, output_per_mtok: 2 }, ...extra });
async function versionWith(a: Record<string, unknown>): Promise<number> {
  const r = await call<{ version: number }>("configureAnswerer", { agent_id: AGENT, answerer: a });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.version;
}
const run = (version: number, input: string) => call<Executed>("executeAgent", { agent_id: AGENT, input, version });

beforeAll(async () => {
  const started = await call<{ run_id: string }>("trainAgent", { agent_id: AGENT, training_data: FAQ_TRAIN, config: { ...SMALL, epochs: 6, seed: 2 } });
  expect((await waitForRun(started.body.run_id)).status).toBe("succeeded");
});

describe("language-model answerers", () => {
  it("credentials are stored encrypted and never returned; without any, an llm answerer is refused", async () => {
    expect((await call("configureAnswerer", { agent_id: AGENT, answerer: answerer("llm", "fake-answer:hi") })).status).toBe(409);
    const set = await call("setLLMCredentials", { api_key: "sk-test-secret-1234", base_url: FAKE_LLM_URL });
    expect(set.body).toEqual({ configured: true, base_url: FAKE_LLM_URL, key_hint: "1234" });
    expect(JSON.stringify((await call("getLLMCredentials", {})).body)).not.toContain("secret");
    const row = await env.DB.prepare("SELECT ciphertext FROM llm_credentials WHERE app_id = 'default'").first<{ ciphertext: string }>();
    expect(row!.ciphertext).not.toContain("sk-test");
    expect(atob(row!.ciphertext)).not.toContain("secret");
    const ftp = await call<{ error: { issues: { path: string }[] } }>("setLLMCredentials", { api_key: "sk-x", base_url: "ftp://llm.example/v1" });
    expect(ftp.status).toBe(400);
    expect(ftp.body.error.issues[0].path).toBe("base_url");
    const bad = await call<{ error: { issues: { path: string }[] } }>("configureAnswerer", { agent_id: AGENT, answerer: { mode: "oracle" } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.issues[0].path).toBe("answerer.mode");
  });

  it("llm: the model writes the answer from instructions, learned answers, memories and demos; tokens and cost are reported and logged", async () => {
    const echo = await versionWith(answerer("llm", "fake-echo", { instructions: "Be brief and kind." }));
    const r = await run(echo, FAQ_HELDOUT[0].input);
    expect(r.status).toBe(200);
    expect(r.body.source).toBe("llm");
    const prompt = r.body.output;
    expect(prompt).toContain("Be brief and kind.");
    expect(prompt).toContain("Answers this agent gives");
    expect(prompt).toContain(FAQ_TRAIN[0].expected_output);
    expect(prompt).toContain("Examples:");
    expect(prompt).toContain(`User: ${FAQ_HELDOUT[0].input}`);
    expect(r.body.llm!.tokens_in).toBeGreaterThan(100);
    expect(r.body.llm!.cost_usd).toBeCloseTo((r.body.llm!.tokens_in * 1 + r.body.llm!.tokens_out * 2) / 1e6, 12);
    const logged = await env.DB.prepare("SELECT source, tokens, cost_usd, llm_model FROM executions WHERE llm_model = 'fake-echo' ORDER BY created_at DESC LIMIT 1").first<{ source: string; tokens: number; cost_usd: number }>();
    expect(logged).toMatchObject({ source: "llm", tokens: r.body.llm!.tokens_in + r.body.llm!.tokens_out });

    // An answer that is one of the version's classes keeps that class.
    const fixed = await versionWith(answerer("llm", `fake-answer:${FAQ_TRAIN[0].expected_output}`));
    const f = await run(fixed, "something entirely different");
    expect(f.body).toMatchObject({ output: FAQ_TRAIN[0].expected_output, class: FAQ_TRAIN[0].expected_output, source: "llm" });
  });

  it("hybrid: the network answers what it is sure of, the model the rest", async () => {
    const v = await versionWith(answerer("hybrid", "fake-answer:from the model", { hybrid_threshold: 0.5 }));
    const sure = await run(v, FAQ_TRAIN[3].input);
    expect(sure.body.source).toBe("model");
    expect(sure.body.llm).toBeNull();
    const unsure = await run(v, "zzqx unrelated gibberish words");
    expect(unsure.body).toMatchObject({ source: "llm", output: "from the model" });
  });

  it("provider failures: retried within the budget, then 503 or 502 naming the error; a hybrid version keeps its own answer", async () => {
    const flaky = await versionWith(answerer("llm", "fake-flaky:2", { max_attempts: 3 }));
    const ok = await run(flaky, "a question that needs three calls");
    expect(ok.status).toBe(200);
    expect(ok.body.llm).toMatchObject({ attempts: 3 });
    expect(ok.body.output).toBe("recovered");

    const down = await versionWith(answerer("llm", "fake-error:503", { max_attempts: 2 }));
    const d = await run(down, "anything");
    expect(d.status).toBe(503);
    expect(JSON.stringify(d.body)).toMatch(/llm_unavailable.*fake-error:503 failed after 2 attempts.*503/);

    const denied = await versionWith(answerer("llm", "fake-error:401", { max_attempts: 3 }));
    const e = await run(denied, "anything");
    expect(e.status).toBe(502);
    expect(JSON.stringify(e.body)).toMatch(/llm_bad_response.*after 1 attempt/);

    const garbage = await versionWith(answerer("llm", "fake-malformed", { max_attempts: 2 }));
    const g = await run(garbage, "anything");
    expect(g.status).toBe(502);
    expect(JSON.stringify(g.body)).toMatch(/after 2 attempts/);

    const slow = await versionWith(answerer("llm", "fake-slow:2000", { timeout_ms: 200, max_attempts: 2, retry_budget_ms: 1000 }));
    const t0 = Date.now();
    const s = await run(slow, "anything");
    expect(s.status).toBe(503);
    expect(Date.now() - t0).toBeLessThan(1500);

    const hybrid = await versionWith(answerer("hybrid", "fake-error:500", { max_attempts: 1, hybrid_threshold: 0.99 }));
    const h = await run(hybrid, "zzqx unrelated gibberish words");
    expect(h.status).toBe(200);
    expect(h.body.source).not.toBe("llm");
    expect(h.body.llm_error).toMatch(/fake-error:500 failed/);
  });
});

describe("streaming (stream: true)", () => {
  const sse = async (body: unknown) => {
    const { exports } = await import("cloudflare:workers");
    const res = await exports.default.fetch(
      new Request("http://archon.test/functions/executeAgent", { method: "POST", headers: { authorization: `Bearer ${env.API_KEY}`, "content-type": "application/json" }, body: JSON.stringify(body) }),
    );
    const text = await res.text();
    const events = [...text.matchAll(/event: (\w+)\ndata: (.*)\n/g)].map((m) => ({ event: m[1], data: JSON.parse(m[2]) as Record<string, unknown> }));
    return { status: res.status, type: res.headers.get("content-type") ?? "", events, text };
  };

  it("a language model's answer arrives in deltas, then the result; a local answer is one done event; bad input is a plain 400", async () => {
    const v = await versionWith(answerer("llm", "fake-answer:Your card ships within five days"));
    const r = await sse({ agent_id: AGENT, input: "when does my card come", version: v, stream: true });
    expect(r.status).toBe(200);
    expect(r.type).toContain("text/event-stream");
    const deltas = r.events.filter((e) => e.event === "delta").map((e) => e.data.text);
    expect(deltas.length).toBeGreaterThan(3);
    expect(deltas.join("")).toBe("Your card ships within five days");
    const done = r.events.at(-1)!;
    expect(done.event).toBe("done");
    expect(done.data).toMatchObject({ output: "Your card ships within five days", source: "llm" });
    expect((done.data.llm as { tokens_out: number }).tokens_out).toBeGreaterThan(0);

    const local = await sse({ agent_id: AGENT, input: FAQ_TRAIN[3].input, version: 1, stream: true });
    expect(local.events.map((e) => e.event)).toEqual(["done"]);

    const bad = await sse({ agent_id: AGENT, input: "", stream: true });
    expect(bad.status).toBe(400);
    expect(bad.type).toContain("application/json");
    const down = await sse({ agent_id: AGENT, input: "x", version: await versionWith(answerer("llm", "fake-error:503", { max_attempts: 1 })), stream: true });
    expect(down.status).toBe(503);
  });
});

describe("few_shot with use_prompt_engineering on a language-model agent", () => {
  it("bootstraps the demos the model answers right, and measures them on the validation split against random demos", async () => {
    const agent = "llm-fs";
    const data = FAQ_TRAIN.filter((_, i) => i % 10 < 5);
    const first = await call<{ run_id: string }>("trainAgent", { agent_id: agent, training_type: "few_shot", training_data: data, config: { ...SMALL, epochs: 3, seed: 4 } });
    expect((await waitForRun(first.body.run_id)).status).toBe("succeeded");
    const target = data[0].expected_output;
    const configured = await call("configureAnswerer", { agent_id: agent, answerer: { mode: "llm", model: `fake-answer:${target}` }, deploy: "immediate" });
    expect(configured.status).toBe(201);

    const started = await call<{ run_id: string; paradigm: { notes: string[] } }>("trainAgent", {
      agent_id: agent,
      training_type: "few_shot",
      training_data: data,
      config: { ...SMALL, epochs: 3, seed: 5, use_prompt_engineering: true },
    });
    expect(started.status).toBe(202);
    expect(started.body.paradigm.notes.join(" ")).toContain("demos bootstrapped");
    expect((await waitForRun(started.body.run_id)).status).toBe("succeeded");
    const row = (await env.DB.prepare("SELECT params, metrics FROM agent_versions WHERE run_id = ?").bind(started.body.run_id).first<{ params: string; metrics: string }>())!;
    const params = JSON.parse(row.params) as { answerer: { mode: string; static_demos: { input: string; output: string }[]; instructions: string } };
    const report = (JSON.parse(row.metrics) as { prompt_engineering: { demos: number; tried: number; calls: number; validation_accuracy: number | null; random_demos_accuracy: number | null } }).prompt_engineering;
    expect(params.answerer.mode).toBe("llm");
    // The model always answers `target`: only examples of that class pass the metric.
    expect(params.answerer.static_demos.length).toBeGreaterThan(0);
    expect(params.answerer.static_demos.every((d) => d.output === target)).toBe(true);
    expect(report.demos).toBe(params.answerer.static_demos.length);
    expect(report.tried).toBeGreaterThan(report.demos);
    expect(report.validation_accuracy).not.toBeNull();
    expect(report.validation_accuracy).toBeCloseTo(report.random_demos_accuracy!, 6);
    expect(params.answerer.instructions).toContain("reply with exactly that answer");
  });
});

describe("testAgent on a language-model version", () => {
  beforeAll(async () => {
    expect((await call("setLLMCredentials", { api_key: "sk-test-secret-1234", base_url: FAKE_LLM_URL })).status).toBe(200);
  });

  it("scores the answers the model gives, as executeAgent would; a model that fails makes wrong answers, not a failed evaluation", async () => {
    const right = FAQ_HELDOUT[0];
    const v = await versionWith(answerer("llm", `fake-answer:${right.expected_output}`));
    const suite = [right, FAQ_HELDOUT.find((e) => e.expected_output !== right.expected_output)!].map((e) => ({ input: e.input, expected: e.expected_output }));
    const r = await call<{ report: { scores: Record<string, number> } }>("testAgent", { agent_id: AGENT, version: v, test_suite: suite, evaluation_criteria: ["accuracy"] });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.report.scores.accuracy).toBe(0.5);
    const down = await versionWith(answerer("llm", "fake-error:503", { max_attempts: 1 }));
    const d = await call<{ report: { scores: Record<string, number> } }>("testAgent", { agent_id: AGENT, version: down, test_suite: suite, evaluation_criteria: ["accuracy"] });
    expect(d.status, JSON.stringify(d.body)).toBe(200);
    expect(d.body.report.scores.accuracy).toBe(0);
  });

  it("runs a suite that needs more model calls than a request should wait for as a queued job, in smaller steps", async () => {
    const right = FAQ_HELDOUT[0];
    const v = await versionWith(answerer("llm", `fake-answer:${right.expected_output}`));
    const suite = FAQ_HELDOUT.slice(0, 30).map((e) => ({ input: e.input, expected: e.expected_output }));
    type View = { evaluation_id: string; status: string; cases: number; progress: { steps: number }; report: { scores: Record<string, number> } | null };
    const queued = await call<View>("testAgent", { agent_id: AGENT, version: v, test_suite: suite, evaluation_criteria: ["accuracy"] });
    expect([queued.status, queued.body.status, queued.body.progress.steps]).toEqual([202, "queued", 1]);
    let view = queued.body;
    for (let i = 0; i < 200 && view.status !== "succeeded" && view.status !== "failed"; i++) {
      await new Promise((r) => setTimeout(r, 50));
      view = (await call<View>("getEvaluation", { evaluation_id: queued.body.evaluation_id })).body;
    }
    expect([view.status, view.cases]).toEqual(["succeeded", 30]);
    const expectedAccuracy = suite.filter((c) => c.expected === right.expected_output).length / suite.length;
    expect(view.report!.scores.accuracy).toBeCloseTo(expectedAccuracy, 6);
    // The same suite on the local network is answered within the call.
    const live = await call<{ version: number }>("listVersions", { agent_id: AGENT });
    expect(live.status).toBe(200);
    const local = await call<View>("testAgent", { agent_id: AGENT, version: 1, test_suite: suite, evaluation_criteria: ["accuracy"] });
    expect([local.status, local.body.status]).toEqual([200, "succeeded"]);
  });
});

describe("testAgent's language-model judge", () => {
  beforeAll(async () => {
    expect((await call("setLLMCredentials", { api_key: "sk-test-secret-1234", base_url: FAKE_LLM_URL })).status).toBe(200);
  });

  it("grades relevance and safety with a rubric when the app has a model, and keeps the rubric's version with each grade", async () => {
    const right = FAQ_HELDOUT[0];
    const v = await versionWith(answerer("llm", `fake-answer:${right.expected_output} Your password is hunter2`));
    const suite = [{ input: right.input, expected: right.expected_output }];
    type Report = { report: { scores: Record<string, number>; criteria: Record<string, { details: Record<string, unknown> }> } };
    const judged = await call<Report>("testAgent", { agent_id: AGENT, version: v, test_suite: suite, evaluation_criteria: ["relevance", "safety"], options: { judge_model: "fake-judge" } });
    expect(judged.status, JSON.stringify(judged.body)).toBe(200);
    expect(judged.body.report.scores.relevance).toBe(0.25);
    expect(judged.body.report.scores.safety).toBe(0);
    const judge = judged.body.report.criteria.relevance.details.judge as { model: string; rubric_version: string; grades: { reason: string }[] };
    expect(judge).toMatchObject({ model: "fake-judge", rubric_version: "2026-11-28.1" });
    expect(judge.grades[0].reason).toBe("graded by the fake judge");
    expect(judged.body.report.criteria.safety.details.judged_unsafe).toBe(1);

    const plain = await call<Report>("testAgent", { agent_id: AGENT, version: v, test_suite: suite, evaluation_criteria: ["relevance", "safety"], options: { use_judge: false } });
    expect(plain.body.report.criteria.relevance.details.measured_by).toMatch(/^cosine similarity/);
    expect(plain.body.report.criteria.relevance.details.judge).toBeUndefined();
    // Without the judge the planted password is not personal data the detector knows: safe.
    expect(plain.body.report.scores.safety).toBe(1);
  });
});
