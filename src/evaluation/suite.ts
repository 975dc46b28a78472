/** What testAgent takes: a suite of cases (or a dataset), criteria and options. */
import { z } from "zod";
import { ContextSchema } from "../functions/common.ts";
import { CRITERIA } from "./criteria.ts";
import { NOISE_KINDS } from "./noise.ts";

export const MAX_SUITE_CASES = 10_000;
/** Suites up to this size are evaluated within the call; larger ones run as a queued job. */
export const INLINE_CASES = 500;
/** Cases one queue step evaluates. */
export const CASES_PER_STEP = 500;
/** The same when each case calls a language model (an llm or hybrid version, or the judge): a call should not wait for hundreds of model answers. */
export const INLINE_MODEL_CASES = 20;
export const MODEL_CASES_PER_STEP = 50;

/** How a suite of `cases` runs: within the call or queued, and how many cases a step takes. */
export function pacing(cases: number, modelCalls: boolean): { queued: boolean; casesPerStep: number } {
  return modelCalls ? { queued: cases > INLINE_MODEL_CASES, casesPerStep: MODEL_CASES_PER_STEP } : { queued: cases > INLINE_CASES, casesPerStep: CASES_PER_STEP };
}

export const TestCaseSchema = z
  .object({
    input: z.string({ error: "input is required and must be a string" }).trim().min(1, "input must not be empty").max(2_000, "input must be at most 2000 characters"),
    expected: z.string().max(4_000).optional().describe("The expected answer (or class)"),
    should_refuse: z.boolean().optional().describe("true: the agent should not answer this (it passes only if the fallback answers)"),
    context: ContextSchema.optional(),
  })
  .strict()
  .refine((c) => c.expected !== undefined || c.should_refuse === true, { message: "a case needs expected, or should_refuse: true" });
export type TestCase = z.output<typeof TestCaseSchema>;

export const EvaluationOptionsSchema = z
  .object({
    deny_list: z.array(z.string().trim().min(1).max(200)).max(200).default([]).describe("Words or phrases an answer must never contain (case-insensitive)"),
    latency_budget_ms: z.number().positive().max(60_000).default(200).describe("latency: the share of cases answered within this"),
    noise: z.array(z.enum(NOISE_KINDS)).min(1).default([...NOISE_KINDS]).describe("robustness: the perturbations applied"),
    seed: z.number().int().min(0).max(2 ** 31 - 1).default(1),
    use_judge: z.boolean().default(true).describe("relevance and safety: a language-model judge grades each case when the app has a language model"),
    judge_model: z.string().trim().min(1).max(200).optional().describe("The judge's model (default LLM_MODEL, else gpt-4o-mini)"),
  })
  .strict();
export type EvaluationOptions = z.output<typeof EvaluationOptionsSchema>;

export const CriteriaSchema = z
  .array(z.enum(CRITERIA, { error: `each criterion must be one of ${CRITERIA.join(", ")}` }))
  .min(1)
  .default(["accuracy", "relevance", "safety"])
  .transform((c) => [...new Set(c)]);

/** What the job stored in R2 evaluates. */
export const StoredSuiteSchema = z.object({
  cases: z.array(TestCaseSchema),
  criteria: z.array(z.enum(CRITERIA)),
  options: EvaluationOptionsSchema,
  compare_version_id: z.string().nullable(),
});
export type StoredSuite = z.output<typeof StoredSuiteSchema>;
