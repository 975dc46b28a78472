/**
 * Answering a suite's cases with a version (and the version compared with,
 * and the baseline) exactly as executeAgent would — memories, network, demos,
 * fallback, without exploration — and recording what each criterion needs.
 * Nothing is logged as an execution: a test is not traffic.
 */
import { answerFully, answerInput, type Answer, type Answerer } from "../agent/execute.ts";
import type { LlmDeps } from "../llm/answer.ts";
import { DomainError } from "../errors.ts";
import type { Judge } from "./judge.ts";
import type { Embedder } from "../memory/embedder.ts";
import { NO_EXPLORATION } from "../model/policy.ts";
import type { CentroidBaseline } from "./baseline.ts";
import { isCorrect, type CaseResult, type Criterion } from "./criteria.ts";
import { detectPii } from "../pii/detect.ts";
import { perturb } from "./noise.ts";
import type { EvaluationOptions, TestCase } from "./suite.ts";

/** One case: the version's result, the compared version's, and the baseline's class. */
export interface CaseRecord {
  main: CaseResult;
  compare: CaseResult | null;
  baseline: string | null;
}

export interface Evaluators {
  main: Answerer;
  compare: Answerer | null;
  baseline: CentroidBaseline | null;
  embedder: Embedder;
  criteria: readonly Criterion[];
  options: EvaluationOptions;
  /** The language model of versions whose answerer has one (llm, hybrid); absent: none is reachable. */
  llm?: LlmDeps;
  /** The language-model judge of relevance and safety, when the app has a model and the suite wants one. */
  judge?: Judge | null;
}

/**
 * A case's answer as executeAgent would give it. A language model that fails
 * after its retries makes an empty answer (wrong, counted), not a failed evaluation.
 */
async function answerOf(a: Answerer, input: string, context: TestCase["context"], llm: LlmDeps | undefined): Promise<Answer & { llmFailed?: string }> {
  try {
    return await answerFully(a, input, context, NO_EXPLORATION, () => 0.5, llm);
  } catch (e) {
    if (!(e instanceof DomainError) || !a.version.params.answerer) throw e;
    const local = await answerInput(a, input, context, NO_EXPLORATION, () => 0.5);
    return { ...local, output: "", source: "llm", llmFailed: e.message };
  }
}

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0;
}

async function answerCase(a: Answerer, c: TestCase, index: number, ev: Evaluators): Promise<CaseResult> {
  const started = performance.now();
  const answer = await answerOf(a, c.input, c.context, ev.llm);
  const latencyMs = performance.now() - started;
  const lower = answer.output.toLowerCase();
  // Personal data the case itself did not bring (an answer may repeat what the user or the expected answer says).
  const given = `${c.input}\n${c.expected ?? ""}`;
  const result: CaseResult = {
    expected: c.expected ?? null,
    shouldRefuse: c.should_refuse === true,
    output: answer.output,
    topClass: a.model.classes[answer.top],
    topConfidence: answer.topConfidence,
    source: answer.source,
    latencyMs,
    relevance: null,
    pii: detectPii(answer.output)
      .filter((f) => !given.includes(answer.output.slice(f.start, f.end)))
      .map((f) => f.entity),
    denied: ev.options.deny_list.filter((term) => lower.includes(term.toLowerCase())),
    noisyCorrect: null,
  };
  if (ev.judge && (ev.criteria.includes("relevance") || ev.criteria.includes("safety"))) {
    result.judgment = await ev.judge.judge({ input: c.input, output: answer.output, expected: c.expected ?? null, shouldRefuse: result.shouldRefuse });
    if (result.judgment && result.expected !== null && !result.shouldRefuse) result.relevance = result.judgment.relevance;
  }
  if (ev.criteria.includes("robustness") && c.expected !== undefined && !c.should_refuse) {
    const noisy = await answerOf(a, perturb(c.input, ev.options.seed, index, ev.options.noise), c.context, ev.llm);
    result.noisyCorrect = isCorrect({ expected: c.expected, output: noisy.output });
  }
  return result;
}

/** Relevance of each result: the embedder's cosine similarity of the answer and the expected answer. */
async function addRelevance(results: CaseResult[], embedder: Embedder): Promise<void> {
  // Cases the judge graded keep its grade.
  const scored = results.filter((r) => r.expected !== null && !r.shouldRefuse && r.relevance === null);
  if (scored.length === 0) return;
  const vectors = await embedder.embed([...scored.map((r) => r.output), ...scored.map((r) => r.expected!)]);
  scored.forEach((r, i) => (r.relevance = cosine(vectors[i], vectors[scored.length + i])));
}

/** Cases `cases` (the suite's from `offset` on), answered by every evaluator. */
export async function evaluateCases(ev: Evaluators, cases: readonly TestCase[], offset: number): Promise<CaseRecord[]> {
  const out: CaseRecord[] = [];
  for (const [i, c] of cases.entries()) {
    out.push({
      main: await answerCase(ev.main, c, offset + i, ev),
      compare: ev.compare ? await answerCase(ev.compare, c, offset + i, ev) : null,
      baseline: ev.baseline ? ev.baseline.predict(c.input) : null,
    });
  }
  if (ev.criteria.includes("relevance")) {
    await addRelevance(out.map((r) => r.main), ev.embedder);
    if (ev.compare) await addRelevance(out.map((r) => r.compare!), ev.embedder);
  }
  return out;
}
