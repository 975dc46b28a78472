/**
 * Which retrieved memory answers an execution, given the version's settings:
 * one definition, used by executeAgent and by performance_tuning's replay of
 * logged executions (their traces), so that a replay decides exactly as the
 * execution would have.
 */
import type { VersionParams } from "../db/schema.ts";
import type { ExecutionTrace } from "../model/trace.ts";
import { fnv1a } from "../model/hash.ts";

/** A procedural rule answers when it is this similar to the input and this trusted. */
export const RULE_MIN_SIMILARITY = 0.5;
export const RULE_MIN_CONFIDENCE = 0.8;
/** Rules within this similarity of the best matching rule share its trigger: the most recently changed one answers. */
export const RULE_TIE_SIMILARITY = 0.05;
/** A correction from feedback answers (before the network) from this similarity on: the same question. */
export const CORRECTION_MIN_SIMILARITY = 0.9;
/** Defaults of a version's settings (VersionParams). */
export const DEMO_MIN_SIMILARITY = 0.6;
export const MEMORIES_PER_EXECUTION = 5;
/** Memories retrieved for each execution; the version uses the first `memories_per_execution`, the trace keeps them all. */
export const MAX_MEMORIES_RETRIEVED = 10;

/** How a version executes, besides its network (VersionParams with defaults filled in; what performance_tuning chooses). */
export interface ExecutionSettings {
  confidence_threshold: number;
  memories_per_execution: number;
  demo_min_similarity: number;
  /** A hybrid version's: the calibrated confidence from which its network answers rather than its language model (src/llm/answer.ts). */
  hybrid_threshold?: number;
}

export function executionSettings(params: VersionParams): ExecutionSettings {
  return {
    confidence_threshold: params.confidence_threshold,
    memories_per_execution: params.memories_per_execution ?? MEMORIES_PER_EXECUTION,
    demo_min_similarity: params.demo_min_similarity ?? DEMO_MIN_SIMILARITY,
  };
}

/** The settings performance_tuning searches: the execution settings, and a hybrid version's threshold. */
export function tunableSettings(params: VersionParams): ExecutionSettings {
  return { ...executionSettings(params), ...(params.answerer?.mode === "hybrid" && { hybrid_threshold: params.answerer.hybrid_threshold ?? params.confidence_threshold }) };
}

/** A version's params with these execution settings (a hybrid threshold is its answerer's). */
export function withSettings(params: VersionParams, s: ExecutionSettings): VersionParams {
  const { hybrid_threshold, ...local } = s;
  return { ...params, ...local, ...(hybrid_threshold !== undefined && params.answerer && { answerer: { ...params.answerer, hybrid_threshold } }) };
}

/** A retrieved memory as far as answering goes. */
export interface Candidate {
  /** A trusted procedural rule with an answer, matching well enough. */
  rule: boolean;
  /** A correction from feedback. */
  correction: boolean;
  /** A demo (corrections are demos too). */
  demo: boolean;
  similarity: number;
  /** Among rules: 0 is the most recently changed (it wins a tie). */
  priority: number;
}

export type MemoryDecision = { kind: "rule" | "correction"; index: number } | { kind: "policy"; demo: number | null };


/**
 * A matching rule answers, else a correction of the same question; else the
 * policy decides (exploring, or the network's class when confident), and when
 * it shows no class, `demo` (the first demo similar enough) answers, else the
 * fallback. Indexes are into `candidates`.
 */
export function decideMemory(candidates: readonly Candidate[], s: Pick<ExecutionSettings, "memories_per_execution" | "demo_min_similarity">): MemoryDecision {
  const used = candidates.slice(0, s.memories_per_execution);
  let best = -Infinity;
  for (const c of used) if (c.rule) best = Math.max(best, c.similarity);
  let rule = -1;
  used.forEach((c, i) => {
    if (c.rule && c.similarity >= best - RULE_TIE_SIMILARITY && (rule < 0 || c.priority < used[rule].priority)) rule = i;
  });
  if (rule >= 0) return { kind: "rule", index: rule };
  const correction = used.findIndex((c) => c.correction && c.similarity >= CORRECTION_MIN_SIMILARITY);
  if (correction >= 0) return { kind: "correction", index: correction };
  const demo = used.findIndex((c) => c.demo && c.similarity >= s.demo_min_similarity);
  return { kind: "policy", demo: demo >= 0 ? demo : null };
}

/** An answer's key in a trace: `c<i>` when it is the version's class i, else a hash of the text. */
export function answerKey(answer: string, classIndex: ReadonlyMap<string, number>): string {
  const c = classIndex.get(answer);
  return c !== undefined ? `c${c}` : `h${fnv1a(answer, 0x7ace).toString(16)}`;
}

export function traceCandidates(trace: ExecutionTrace): Candidate[] {
  return trace.hits.map((h) => ({ rule: h.k.includes("r"), correction: h.k.includes("c"), demo: h.k.includes("d"), similarity: h.s, priority: h.t ?? 0 }));
}

export function traceHit(c: Candidate, answer: string | null): ExecutionTrace["hits"][number] {
  const k = `${c.rule ? "r" : ""}${c.correction ? "c" : ""}${c.demo ? "d" : ""}`;
  return { k, s: c.similarity, ...(c.rule && { t: c.priority }), ...(answer !== null && k !== "" && { a: answer }) };
}
