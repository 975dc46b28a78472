/**
 * Prompt optimization for a version that answers with a language model
 * (answerer llm or hybrid), as one of analyzeAndOptimize's trials:
 *   1. the current instructions answer a seeded sample of the search set
 *      (MINED inputs); the ones answered wrong are its failures;
 *   2. the model proposes up to CANDIDATES new instructions from the current
 *      ones and those failures (structured output in a zod schema);
 *   3. the current instructions and each candidate answer another sample of
 *      the search set (VALIDATION inputs, disjoint from the mined ones); the
 *      best candidate is the one with the most right, if it beats the current;
 *   4. it and the current instructions answer the final check (FINAL inputs,
 *      never seen by the search), per input, for the optimizer's gate (run.ts:
 *      the same `choose` as every technique, on accuracy, latency and tokens).
 * A hybrid version's threshold is chosen on the validation sample too (the
 * network's calibrated confidence and answer against the model's), and for
 * optimize_cost or minimize_latency a smaller memory token budget (the fewest
 * tokens within max_accuracy_loss); the final check judges all together.
 * Answers are judged by exact match (case and spacing aside), as bootstrapped
 * demos are. Prompts are built as executeAgent builds them: the version's
 * learned answers, the memories and demos retrieved for the input, and its
 * static demos. Every call is bounded by the constants below and priced; a
 * failed call is a wrong answer.
 */
import { generateText, Output, type LanguageModel } from "ai";
import { z } from "zod";
import type { Example } from "../model/hyper.ts";
import { Rng } from "../model/rng.ts";
import { AnswererSchema, type AnswererSettings } from "../llm/answerer.ts";
import { meteredModel, sameAnswer } from "../llm/metered.ts";
import { choose, SAME_SPEED, type Candidate, type Constraints, type Goal } from "./pareto.ts";
import type { Price } from "../llm/prices.ts";
import { buildPrompt, type Pattern } from "../llm/prompt.ts";

export const MINED = 40;
export const CANDIDATES = 3;
export const VALIDATION = 40;
export const FINAL = 60;
/** The most model calls the trial makes for these goals (every answer's first attempt and the proposal; retries count in the report). */
export function plannedCalls(goals: readonly Goal[]): number {
  const budgets = goals.includes("optimize_cost") || goals.includes("minimize_latency") ? 3 : 0;
  return MINED + 1 + (1 + CANDIDATES) * VALIDATION + budgets * VALIDATION + 2 * FINAL;
}

/** Failures shown to the proposer at most. */
const SHOWN_FAILURES = 10;
/** Model calls in flight at once. */
const CONCURRENCY = 4;

const ArmSchema = z.object({
  accuracy: z.number(),
  /** Per final-check input, "1" when answered right. */
  correct: z.string(),
  latency_ms: z.number().describe("Mean time the model took per input (0 where the network answered)"),
  tokens: z.number().describe("Mean model tokens per input (prompt and output; 0 where the network answered)"),
  model_share: z.number().describe("Share of inputs the model answered (hybrid: the rest the network did)"),
});
export type Arm = z.output<typeof ArmSchema>;

const SettingsSchema = z.object({ instructions: z.string(), hybrid_threshold: z.number().nullable(), memory_token_budget: z.number().int().nullable() });

export const PromptReportSchema = z.discriminatedUnion("status", [
  z.object({ status: z.literal("not_applicable"), reason: z.string() }),
  z.object({
    status: z.literal("measured"),
    current: z.object({ instructions: z.string(), validation_accuracy: z.number(), hybrid_threshold: z.number().nullable() }),
    mined: z.number().int(),
    failures: z.number().int(),
    candidates: z.array(z.object({ instructions: z.string(), validation_accuracy: z.number() })),
    /** The candidate that beat the current instructions on validation (its index), or null. */
    chosen: z.number().int().nullable(),
    /** hybrid: the threshold chosen on validation for the chosen instructions, with the validation figures of each threshold tried. */
    threshold: z
      .object({ chosen: z.number(), tried: z.array(z.object({ threshold: z.number(), accuracy: z.number(), model_share: z.number() })) })
      .nullable(),
    /** optimize_cost or minimize_latency: the memory token budget chosen on validation (the fewest tokens within max_accuracy_loss), with each budget tried. */
    memory_budget: z
      .object({ chosen: z.number().int(), tried: z.array(z.object({ budget: z.number().int(), accuracy: z.number(), tokens: z.number() })) })
      .nullable(),
    /** What the final check compares: the current settings and the proposed ones (null when nothing changed). */
    proposed: SettingsSchema.nullable(),
    final: z.object({ current: ArmSchema, chosen: ArmSchema }).nullable(),
    reason: z.string(),
    calls: z.number().int(),
    failed_calls: z.number().int(),
    cost_usd: z.number(),
  }),
]);
export type PromptReport = z.output<typeof PromptReportSchema>;

const PROPOSER = `You improve the instructions (the system prompt) of an app's assistant. You are given its current instructions and messages it answered wrong, each with the answer expected.
Propose different instructions that would make it give the expected answers: general rules, not the answers themselves. Keep each proposal under 800 characters. Reply in the JSON schema given.`;

const ProposalSchema = z.object({ candidates: z.array(z.string().min(1).max(2000)).min(1).max(5) });

/** Thresholds a hybrid version's network may answer from (its calibrated confidence), tried on validation. */
export const THRESHOLDS = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.01];

/** `f` over `xs`, at most `n` at a time, results in order. */
async function pool<T, R>(xs: readonly T[], n: number, f: (x: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(xs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, xs.length) }, async () => {
      while (next < xs.length) {
        const i = next++;
        out[i] = await f(xs[i]);
      }
    }),
  );
  return out;
}

export interface PromptData {
  search: readonly Example[];
  finalCheck: readonly Example[];
  patterns: readonly Pattern[];
  /** The memories executeAgent would show the model for an input (retrieved as it retrieves them); none when absent. */
  context?: (input: string) => Promise<{ demos: { input: string; output: string }[]; memories: string[] }>;
  /** hybrid: the version's network on an input (its class's answer and calibrated confidence), and its default threshold. */
  network?: { answer(input: string): { answer: string; confidence: number }; defaultThreshold: number };
}

interface ModelAnswer {
  right: boolean;
  ms: number;
  tokens: number;
}

/** What a hybrid version with threshold `t` answers per input: the network from `t` on, else the model. */
function combine(model: readonly ModelAnswer[], net: readonly { right: boolean; confidence: number }[] | null, t: number | null): Arm {
  const per = model.map((m, i) => (net && t !== null && net[i].confidence >= t ? { right: net[i].right, ms: 0, tokens: 0, byModel: 0 } : { ...m, byModel: 1 }));
  const mean = (f: (a: (typeof per)[number]) => number) => per.reduce((s, a) => s + f(a), 0) / Math.max(1, per.length);
  return { accuracy: mean((a) => Number(a.right)), correct: per.map((a) => (a.right ? "1" : "0")).join(""), latency_ms: mean((a) => a.ms), tokens: mean((a) => a.tokens), model_share: mean((a) => a.byModel) };
}

/**
 * The threshold for the chosen instructions, on validation: for maximize_accuracy the most accurate (then the fewest
 * model calls); for the other goals the fewest model calls within max_accuracy_loss of the current threshold's accuracy.
 */
function chooseThreshold(model: readonly ModelAnswer[], net: readonly { right: boolean; confidence: number }[], current: number, goals: readonly Goal[], k: Constraints) {
  const tried = [...new Set([...THRESHOLDS, current])].sort((a, b) => a - b).map((t) => ({ threshold: t, ...combine(model, net, t) }));
  const base = tried.find((x) => x.threshold === current)!;
  const pick = goals.includes("maximize_accuracy")
    ? tried.reduce((b, x) => (x.accuracy > b.accuracy || (x.accuracy === b.accuracy && x.model_share < b.model_share) ? x : b), base)
    : tried.filter((x) => x.accuracy >= base.accuracy - k.max_accuracy_loss).reduce((b, x) => (x.model_share < b.model_share || (x.model_share === b.model_share && x.accuracy > b.accuracy) ? x : b), base);
  return { chosen: pick.threshold, tried: tried.map((x) => ({ threshold: x.threshold, accuracy: x.accuracy, model_share: x.model_share })) };
}

export async function optimizePrompt(model: LanguageModel, s: AnswererSettings, price: Price | null, data: PromptData, seed: number, goals: readonly Goal[], k: Constraints): Promise<PromptReport> {
  const metered = meteredModel(model, s, price);
  const usage = metered.usage;
  const contexts = new Map<string, Promise<{ demos: { input: string; output: string }[]; memories: string[] }>>();
  const contextOf = (input: string) => {
    let c = contexts.get(input);
    if (!c) contexts.set(input, (c = data.context ? data.context(input) : Promise.resolve({ demos: s.static_demos, memories: [] })));
    return c;
  };
  const answer = async (instructions: string, e: Example, budget = s.memory_token_budget): Promise<ModelAnswer & { text: string | null }> => {
    const { demos, memories } = await contextOf(e.input);
    const { system, prompt } = buildPrompt({ instructions, patterns: s.use_learned_patterns ? data.patterns : null, memories, demos, input: e.input, budgetTokens: budget });
    const g = await metered.generate(system, prompt);
    return g ? { text: g.text, right: sameAnswer(g.text, e.expected_output), ms: g.latency_ms, tokens: g.tokens_in + g.tokens_out } : { text: null, right: false, ms: 0, tokens: 0 };
  };
  const answerAll = (instructions: string, xs: readonly Example[], budget?: number) => pool(xs, CONCURRENCY, (e) => answer(instructions, e, budget));
  const rate = (answers: readonly { right: boolean }[]) => answers.filter((a) => a.right).length / Math.max(1, answers.length);
  const hybrid = s.mode === "hybrid" && data.network ? data.network : null;
  const netOn = (xs: readonly Example[]) => (hybrid ? xs.map((e) => ({ ...hybrid.answer(e.input), expected: e.expected_output })).map((p) => ({ right: sameAnswer(p.answer, p.expected), confidence: p.confidence })) : null);
  const currentThreshold = hybrid ? (s.hybrid_threshold ?? hybrid.defaultThreshold) : null;
  const order = new Rng(seed, 0x9e0).shuffle(Int32Array.from(data.search.keys()));
  const mined = Array.from(order.subarray(0, MINED), (i) => data.search[i]);
  const validation = Array.from(order.subarray(MINED, MINED + VALIDATION), (i) => data.search[i]);
  const current = s.instructions;
  const report = (r: Omit<Extract<PromptReport, { status: "measured" }>, "status" | "calls" | "failed_calls" | "cost_usd">): PromptReport => ({ status: "measured", ...r, ...usage });

  // 1. What the current instructions get wrong.
  const minedAnswers = await answerAll(current, mined);
  const failures = mined.flatMap((e, i) => (minedAnswers[i].right ? [] : [{ message: e.input, expected_answer: e.expected_output, answer_given: minedAnswers[i].text ?? "(no answer: the call failed)" }]));

  // 2. Proposals (when there is something to improve on).
  let proposed: string[] = [];
  let why = "";
  if (failures.length === 0) why = `the current instructions answered all ${mined.length} mined inputs right`;
  else {
    try {
      const { output } = await generateText({
        model,
        system: PROPOSER,
        output: Output.object({ schema: ProposalSchema }),
        temperature: 0.7,
        maxRetries: 2,
        abortSignal: AbortSignal.timeout(s.timeout_ms * 2),
        prompt: JSON.stringify({ current_instructions: current, failures: failures.slice(0, SHOWN_FAILURES) }),
      });
      proposed = [...new Set(output.candidates.map((c) => c.trim()))].filter((c) => c && c !== current.trim()).slice(0, CANDIDATES);
    } catch (err) {
      usage.failed_calls++;
      why = `the model proposed no instructions: ${err instanceof Error ? err.message.slice(0, 200) : String(err)}`;
    }
    usage.calls++;
  }

  // 3. Each on the validation sample, the current instructions too; for a hybrid version, the threshold for the best.
  const validated = [await answerAll(current, validation)];
  for (const instructions of proposed) validated.push(await answerAll(instructions, validation));
  const scores = validated.map(rate);
  const candidates = proposed.map((instructions, i) => ({ instructions, validation_accuracy: scores[i + 1] }));
  const best = candidates.reduce<number | null>((b, c, i) => (c.validation_accuracy > (b === null ? scores[0] : candidates[b].validation_accuracy) ? i : b), null);
  if (proposed.length > 0 && best === null) why = `no proposal beat the current instructions on ${validation.length} validation inputs (${scores[0].toFixed(3)})`;
  const chosenInstructions = best === null ? current : candidates[best].instructions;
  const chosenValidated = validated[best === null ? 0 : best + 1];
  const validationNet = netOn(validation);
  const threshold = validationNet && currentThreshold !== null ? chooseThreshold(chosenValidated, validationNet, currentThreshold, goals, k) : null;
  const chosenThreshold = threshold?.chosen ?? currentThreshold;
  // For cost or latency: fewer memory tokens in the prompt, on validation, within max_accuracy_loss of the current budget.
  let memoryBudget: { chosen: number; tried: { budget: number; accuracy: number; tokens: number }[] } | null = null;
  if (goals.includes("optimize_cost") || goals.includes("minimize_latency")) {
    const b = s.memory_token_budget;
    const tried = [{ budget: b, ...combine(chosenValidated, validationNet, chosenThreshold) }];
    for (const budget of [...new Set([Math.floor(b / 2), Math.floor(b / 4), 0])].filter((x) => x < b)) tried.push({ budget, ...combine(await answerAll(chosenInstructions, validation, budget), validationNet, chosenThreshold) });
    const pick = tried.filter((x) => x.accuracy >= tried[0].accuracy - k.max_accuracy_loss).reduce((m, x) => (x.tokens < m.tokens ? x : m), tried[0]);
    memoryBudget = { chosen: pick.budget, tried: tried.map((x) => ({ budget: x.budget, accuracy: x.accuracy, tokens: x.tokens })) };
  }
  const currentView = { instructions: current, validation_accuracy: scores[0], hybrid_threshold: currentThreshold };
  const base = { mined: mined.length, failures: failures.length, current: currentView, candidates, chosen: best, threshold, memory_budget: memoryBudget };
  const budgetChanged = memoryBudget !== null && memoryBudget.chosen !== s.memory_token_budget;
  if (best === null && chosenThreshold === currentThreshold && !budgetChanged) {
    return report({ ...base, proposed: null, final: null, reason: `${why || "nothing to change"}${threshold ? `; the current threshold ${currentThreshold} stays` : ""}${memoryBudget ? `; the memory token budget ${s.memory_token_budget} stays` : ""}` });
  }

  // 4. The final check, per input, for the gate.
  const finalCheck = data.finalCheck.slice(0, FINAL);
  const finalNet = netOn(finalCheck);
  const currentAnswers = await answerAll(current, finalCheck);
  const chosenBudget = memoryBudget?.chosen ?? s.memory_token_budget;
  const chosenAnswers = chosenInstructions === current && !budgetChanged ? currentAnswers : await answerAll(chosenInstructions, finalCheck, chosenBudget);
  const final = { current: combine(currentAnswers, finalNet, currentThreshold), chosen: combine(chosenAnswers, finalNet, chosenThreshold) };
  const changed = [
    ...(best !== null ? [`candidate ${best + 1} of ${candidates.length} beat the current instructions on validation (${candidates[best].validation_accuracy.toFixed(3)} against ${scores[0].toFixed(3)})`] : why ? [why] : []),
    ...(chosenThreshold !== currentThreshold ? [`the hybrid threshold ${chosenThreshold} instead of ${currentThreshold}`] : []),
    ...(budgetChanged ? [`a memory token budget of ${chosenBudget} instead of ${s.memory_token_budget}`] : []),
  ];
  return report({
    ...base,
    proposed: { instructions: chosenInstructions, hybrid_threshold: chosenThreshold, memory_token_budget: budgetChanged ? chosenBudget : null },
    final,
    reason: `${changed.join("; ")}; final check ${final.chosen.accuracy.toFixed(3)} against ${final.current.accuracy.toFixed(3)}`,
  });
}

/**
 * The prompt trial's outcome judged by the optimizer's gate: `choose` on the
 * final check (the proposed instructions against the current ones; accuracy
 * per input, answer time, tokens as cost), or why there is none. `proposed`:
 * the answerer with the proposed instructions, when they passed.
 */
export function promptVerdict(
  trial: { score: number | null; measures: unknown; config: Record<string, unknown> } | undefined,
  goals: readonly Goal[],
  constraints: Constraints,
  noSearch: string | null,
): { report: Record<string, unknown>; answerer: AnswererSettings | null; proposed: AnswererSettings | null; reason: string } {
  const none = (report: Record<string, unknown>, answerer: AnswererSettings | null = null) => ({ report, answerer, proposed: null, reason: String(report.reason ?? "") });
  if (!trial) return none({ status: "not_applicable", reason: noSearch ? `no search, so no prompt trial: ${noSearch}` : "the live version answers with its network alone (answerer local)" });
  const answerer = AnswererSchema.safeParse(trial.config.answerer).data ?? null;
  if (trial.score === null) return none({ status: "not_finished", reason: "the prompt trial had not finished when the optimization's time ran out" }, answerer);
  const parsed = PromptReportSchema.safeParse((trial.measures as { prompt?: unknown } | null)?.prompt);
  if (!parsed.success) return none({ status: "not_applicable", reason: "the prompt trial's report is unreadable" }, answerer);
  const r = parsed.data;
  if (r.status !== "measured" || !r.proposed || !r.final) return none({ ...r, passed: false }, answerer);
  const view = (name: string, a: Arm): Candidate => ({ name, accuracy: a.accuracy, latencyMs: a.latency_ms, bytes: 1, cost: Math.max(1e-9, a.tokens), correct: [...a.correct].map((c) => c === "1") });
  const base = view("current settings", r.final.current);
  const proposed = view("proposed settings", r.final.chosen);
  if (Math.abs(proposed.latencyMs - base.latencyMs) <= base.latencyMs * SAME_SPEED) proposed.latencyMs = base.latencyMs;
  // Latency 0 (the network answered every input): log ratios need a floor.
  base.latencyMs = Math.max(base.latencyMs, 1e-3);
  proposed.latencyMs = Math.max(proposed.latencyMs, 1e-3);
  const verdict = choose([proposed], base, goals, constraints);
  const report = { ...r, passed: verdict.chosen !== null, decision: verdict.reason };
  if (!verdict.chosen || !answerer) return { report, answerer, proposed: null, reason: verdict.reason };
  const settings = {
    ...answerer,
    instructions: r.proposed.instructions,
    ...(r.proposed.hybrid_threshold !== null && { hybrid_threshold: r.proposed.hybrid_threshold }),
    ...(r.proposed.memory_token_budget !== null && { memory_token_budget: r.proposed.memory_token_budget }),
  };
  return { report, answerer, proposed: settings, reason: verdict.reason };
}
