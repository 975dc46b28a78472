/**
 * analyzeAndOptimize's prompt optimization for a language-model agent, against
 * the fake OpenAI-compatible server (test/fake-openai.ts): fake-picky answers
 * exactly only when its instructions say "verbatim" and proposes such
 * instructions from failures; fake-stubborn proposes none that help.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { FAKE_LLM_URL } from "../fake-openai.ts";
import { FAQ_HELDOUT, FAQ_TRAIN, refusal, SMALL, testClient, waitForRun } from "../helpers.ts";
import { CANDIDATES, MINED, promptVerdict, VALIDATION, type PromptReport as Report } from "../../src/optimize/prompt.ts";
import { AnswererSchema } from "../../src/llm/answerer.ts";

const client = testClient();

interface PromptReport {
  status: string;
  failures: number;
  candidates: { instructions: string; validation_accuracy: number }[];
  chosen: number | null;
  current: { validation_accuracy: number };
  final: { current: { accuracy: number; correct: string }; chosen: { accuracy: number; correct: string } } | null;
  passed?: boolean;
  applied?: string | null;
  reason: string;
  calls: number;
}

async function optimized(agent: string, model: string, mode: "llm" | "hybrid" = "llm", goals: ("maximize_accuracy" | "optimize_cost")[] = ["maximize_accuracy"]) {
  const trained = await client.functions.trainAgent({ agent_id: agent, training_data: FAQ_TRAIN, config: { ...SMALL, epochs: 3, seed: 4 } });
  expect((await waitForRun(trained.run_id)).status).toBe("succeeded");
  const configured = await client.functions.configureAnswerer({ agent_id: agent, answerer: { mode, model, price: { input_per_mtok: 1, output_per_mtok: 2 } }, deploy: "immediate" });
  const started = await client.functions.analyzeAndOptimize({ agent_id: agent, optimization_goals: goals, budget: { trials: 3 } });
  return { optimization: await ended(started.optimization_id), llmVersion: configured.version };
}

/** The optimization once it has ended. */
async function ended(id: string) {
  for (let i = 0; i < 600; i++) {
    const o = await client.functions.getOptimization({ optimization_id: id });
    if (o.status === "succeeded" || o.status === "failed") return o;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`optimization ${id} did not end`);
}

/** Its report's prompt optimization part. */
const promptPart = (o: { report: unknown }) => (o.report as { techniques: { prompt_optimization: PromptReport } }).techniques.prompt_optimization;

beforeAll(async () => {
  await client.functions.setLLMCredentials({ api_key: "sk-test-prompt", base_url: FAKE_LLM_URL });
});

describe("prompt optimization", () => {
  it("proposes instructions from failures, keeps the one that wins on validation and passes the final check, and makes a version of it", async () => {
    const { optimization, llmVersion } = await optimized("prompt-bot", "fake-picky");
    expect(optimization.status, optimization.error ?? "").toBe("succeeded");
    const techniques = (optimization.report as { techniques: { prompt_optimization: PromptReport } }).techniques;
    const p = techniques.prompt_optimization;
    expect(p.status).toBe("measured");
    // The current instructions wrap every answer in chatter: all mined inputs fail.
    expect(p.failures).toBe(MINED);
    expect(p.candidates.length).toBeGreaterThan(0);
    expect(p.candidates.length).toBeLessThanOrEqual(CANDIDATES);
    expect(p.current.validation_accuracy).toBe(0);
    const chosen = p.candidates[p.chosen!];
    expect(chosen.instructions).toMatch(/verbatim/);
    // (fake-picky's word-overlap pick is right about half the time on the FAQ.)
    expect(chosen.validation_accuracy).toBeGreaterThan(0.3);
    // The unhelpful proposal lost on validation.
    expect(p.candidates.find((c) => !/verbatim/.test(c.instructions))?.validation_accuracy).toBe(0);
    expect(p.final!.chosen.accuracy).toBeGreaterThan(p.final!.current.accuracy);
    expect(p.final!.chosen.correct).toHaveLength(p.final!.current.correct.length);
    expect(p.passed).toBe(true);
    expect(p.calls).toBeGreaterThanOrEqual(MINED + 1 + (p.candidates.length + 1) * VALIDATION);
    // The version it made — the live network with the proposed instructions, or a winning network's carrying them — answers with them.
    // (A winning network's version appears when its run ends.)
    const networkWon = (optimization.report as { decision: { chosen: string | null } }).decision.chosen !== null;
    if (networkWon) expect((await waitForRun(optimization.run_id!, 120_000)).status).toBe("succeeded");
    const versions = await client.functions.listVersions({ agent_id: "prompt-bot" });
    const made = versions.versions.find((v) => v.version > llmVersion)!;
    expect(made.label).toBe("candidate");
    const detail = await client.functions.getVersion({ agent_id: "prompt-bot", version: made.version });
    const answerer = (detail.params as { answerer?: { mode: string; instructions: string } }).answerer;
    expect(answerer).toMatchObject({ mode: "llm", instructions: chosen.instructions });
    expect(made.kind).toBe(networkWon ? "training" : "prompt_optimization");
    expect(p.applied).toMatch(networkWon ? /applied with the new network/ : /proposed instructions a candidate version/);
    const heldout = FAQ_HELDOUT[0];
    const before = await client.functions.executeAgent({ agent_id: "prompt-bot", input: heldout.input });
    expect(before.output).toMatch(/^Sure! /);
    const after = await client.functions.executeAgent({ agent_id: "prompt-bot", input: heldout.input, version: made.version });
    expect(after.output).not.toMatch(/^Sure! /);
    expect(after.source).toBe("llm");
  }, 240_000);

  it("tunes a hybrid version's threshold on validation for the chosen instructions, and gates both on the final check", async () => {
    const { optimization, llmVersion } = await optimized("hybrid-bot", "fake-picky", "hybrid");
    type Threshold = { threshold: number; accuracy: number; model_share: number };
    const p = (optimization.report as { techniques: { prompt_optimization: PromptReport & { threshold: { chosen: number; tried: Threshold[] }; proposed: { instructions: string; hybrid_threshold: number } } } }).techniques.prompt_optimization;
    expect(p.status).toBe("measured");
    const current = (await client.functions.getVersion({ agent_id: "hybrid-bot", version: llmVersion })).params as { confidence_threshold: number };
    expect(p.threshold.tried.map((t) => t.threshold)).toContain(current.confidence_threshold);
    // The network is right more often than fake-picky on the FAQ: for accuracy the chosen threshold lets it answer more, the model less.
    const at = (t: number) => p.threshold.tried.find((x) => x.threshold === t)!;
    expect(at(p.threshold.chosen).accuracy).toBeGreaterThanOrEqual(at(current.confidence_threshold).accuracy);
    expect(at(p.threshold.chosen).model_share).toBeLessThanOrEqual(at(current.confidence_threshold).model_share);
    expect(at(1.01).model_share).toBe(1);
    expect(p.proposed.hybrid_threshold).toBe(p.threshold.chosen);
    if (p.passed) {
      const networkWon = (optimization.report as { decision: { chosen: string | null } }).decision.chosen !== null;
      if (networkWon) expect((await waitForRun(optimization.run_id!, 120_000)).status).toBe("succeeded");
      const made = (await client.functions.listVersions({ agent_id: "hybrid-bot" })).versions.find((v) => v.version > llmVersion)!;
      const answerer = ((await client.functions.getVersion({ agent_id: "hybrid-bot", version: made.version })).params as { answerer: { mode: string; hybrid_threshold: number; instructions: string } }).answerer;
      expect(answerer).toMatchObject({ mode: "hybrid", hybrid_threshold: p.threshold.chosen, instructions: p.proposed.instructions });
    }
  }, 240_000);

  it("for cost, tries smaller memory token budgets on validation and keeps the fewest tokens within the accuracy allowed", async () => {
    const { optimization } = await optimized("budget-bot", "fake-picky", "llm", ["optimize_cost"]);
    type Budget = { budget: number; accuracy: number; tokens: number };
    const p = (optimization.report as { techniques: { prompt_optimization: PromptReport & { memory_budget: { chosen: number; tried: Budget[] } } } }).techniques.prompt_optimization;
    expect(p.status).toBe("measured");
    const tried = p.memory_budget.tried;
    expect(tried.map((t) => t.budget)).toEqual([1500, 750, 375, 0]);
    // Fewer memory tokens, fewer prompt tokens; with none the prompt lists no answers and fake-picky cannot pick one.
    expect(tried.map((t) => t.tokens)).toEqual([...tried.map((t) => t.tokens)].sort((a, b) => b - a));
    expect(tried.at(-1)!.accuracy).toBe(0);
    const chosen = tried.find((t) => t.budget === p.memory_budget.chosen)!;
    expect(chosen.accuracy).toBeGreaterThanOrEqual(tried[0].accuracy - 0.005);
    expect(tried.filter((t) => t.accuracy >= tried[0].accuracy - 0.005).every((t) => t.tokens >= chosen.tokens)).toBe(true);
  }, 240_000);

  it("does not run beyond budget.llm_calls, and says so", async () => {
    const started = await client.functions.analyzeAndOptimize({ agent_id: "budget-bot", optimization_goals: ["maximize_accuracy"], budget: { trials: 3, llm_calls: 100 } });
    const p = promptPart(await ended(started.optimization_id));
    expect(p).toMatchObject({ status: "not_applicable" });
    expect(p.reason).toMatch(/budget.llm_calls 100 is below the 321 language-model calls/);
    const bad = await refusal(client.functions.analyzeAndOptimize({ agent_id: "budget-bot", optimization_goals: ["maximize_accuracy"], budget: { llm_calls: -1 } }));
    expect([bad.status, bad.issues[0]?.path]).toEqual([400, "budget.llm_calls"]);
  }, 240_000);

  it("keeps the current instructions when no proposal beats them, and says so", async () => {
    const { optimization } = await optimized("stubborn-bot", "fake-stubborn");
    const p = promptPart(optimization);
    expect(p.status).toBe("measured");
    expect(p.chosen).toBeNull();
    expect(p.final).toBeNull();
    expect(p.passed).toBe(false);
    expect(p.reason).toMatch(/no proposal beat the current instructions/);
    const kinds = await env.DB.prepare("SELECT kind FROM agent_versions WHERE agent_id = 'stubborn-bot'").all<{ kind: string }>();
    expect(kinds.results.map((k) => k.kind)).not.toContain("prompt_optimization");
  }, 240_000);

  it("reports prompt optimization as not applicable for an agent that answers with its network", async () => {
    const trained = await client.functions.trainAgent({ agent_id: "local-bot", training_data: FAQ_TRAIN, config: { ...SMALL, epochs: 2, seed: 5 } });
    expect((await waitForRun(trained.run_id)).status).toBe("succeeded");
    const started = await client.functions.analyzeAndOptimize({ agent_id: "local-bot", optimization_goals: ["minimize_size"], budget: { trials: 3 } });
    const p = promptPart(await ended(started.optimization_id));
    expect(p).toMatchObject({ status: "not_applicable" });
    expect(p.reason).toMatch(/network alone/);
  }, 240_000);
});

describe("the prompt's gate", () => {
  const answerer = AnswererSchema.parse({ mode: "llm", model: "m", instructions: "Answer." });
  const arm = (correct: string, tokens = 300) => ({ accuracy: [...correct].filter((c) => c === "1").length / correct.length, correct, latency_ms: 300, tokens, model_share: 1 });
  const measured = (current: string, chosen: string, tokens = 300): Extract<Report, { status: "measured" }> => ({
    status: "measured",
    current: { instructions: "Answer.", validation_accuracy: 0.2, hybrid_threshold: null },
    mined: 40,
    failures: 30,
    candidates: [{ instructions: "Answer verbatim.", validation_accuracy: 0.6 }],
    chosen: 0,
    threshold: null,
    memory_budget: null,
    proposed: { instructions: "Answer verbatim.", hybrid_threshold: null, memory_token_budget: null },
    final: { current: arm(current), chosen: arm(chosen, tokens) },
    reason: "r",
    calls: 200,
    failed_calls: 0,
    cost_usd: 0.01,
  });
  const trial = (r: Report | null, score: number | null = 0.6) => ({ score, measures: r && { prompt: r }, config: { prompt: true, answerer } });
  const k = { max_accuracy_loss: 0.005 };

  it("passes proposed instructions better on the final check, with the live answerer's other settings", () => {
    const v = promptVerdict(trial(measured("0011001100", "0111011101")), ["maximize_accuracy"], k, null);
    expect(v.report).toMatchObject({ passed: true });
    expect(v.proposed).toEqual({ ...answerer, instructions: "Answer verbatim." });
  });

  it("refuses instructions no better on the final check, or dearer when cost is the goal", () => {
    expect(promptVerdict(trial(measured("0111011101", "0011001100")), ["maximize_accuracy"], k, null).proposed).toBeNull();
    expect(promptVerdict(trial(measured("0111011101", "0111011101")), ["maximize_accuracy"], k, null).proposed).toBeNull();
    const dearer = promptVerdict(trial(measured("0111011101", "0111011101", 450)), ["optimize_cost"], k, null);
    expect([dearer.proposed, dearer.report.passed]).toEqual([null, false]);
    const cheaper = promptVerdict(trial(measured("0111011101", "0111011101", 200)), ["optimize_cost"], k, null);
    expect(cheaper.proposed?.instructions).toBe("Answer verbatim.");
  });

  it("says why there is no verdict", () => {
    expect(promptVerdict(undefined, ["maximize_accuracy"], k, null).report).toMatchObject({ status: "not_applicable", reason: expect.stringMatching(/network alone/) });
    expect(promptVerdict(undefined, ["maximize_accuracy"], k, "too few examples").report.reason).toMatch(/no search, so no prompt trial: too few examples/);
    expect(promptVerdict(trial(null, null), ["maximize_accuracy"], k, null).report.status).toBe("not_finished");
    expect(promptVerdict(trial({ ...measured("01", "11"), chosen: null, proposed: null, final: null }), ["maximize_accuracy"], k, null).report).toMatchObject({ status: "measured", passed: false });
  });
});
