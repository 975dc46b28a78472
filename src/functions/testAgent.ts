/** testAgent, getEvaluation, listEvaluations (src/evaluation). */
import { DatasetRefSchema } from "../data/names.ts";
import { SplitSchema } from "../data/splits.ts";
import { z } from "zod";
import { CriteriaSchema, EvaluationOptionsSchema, MAX_SUITE_CASES, TestCaseSchema, INLINE_CASES, INLINE_MODEL_CASES } from "../evaluation/suite.ts";
import { EvaluationViewSchema, evaluationView, findEvaluation, listEvaluations as list, startEvaluation } from "../evaluation/start.ts";
import { evaluationDeps } from "../evaluation/job.ts";
import { findAgent } from "../agent/versions.ts";
import { defineFunction } from "./registry.ts";
import { AgentIdSchema, randomId } from "./common.ts";

const EvaluationIdSchema = z.string().regex(/^evl_[0-9a-f]{24}$/, "evaluation_id must look like evl_ followed by 24 hex digits");

export const testAgent = defineFunction({
  name: "testAgent",
  summary: "Evaluate a version on a test suite: accuracy, relevance, safety, calibration, latency, robustness, with comparisons",
  description:
    `test_suite: [{ input, expected?, should_refuse?, context? }] (up to ${MAX_SUITE_CASES}), or dataset_id. version: the live one when absent. compare_to: a version or "previous". ` +
    "Every comparison (with compare_to, and with a nearest-centroid baseline trained on the version's own training data) carries a paired bootstrap 95% interval of the difference and McNemar's p-value. " +
    `Up to ${INLINE_CASES} cases answer at once (200) — ${INLINE_MODEL_CASES} when each case calls a language model (an llm or hybrid version, or the judge); larger suites run as a queued job (202: follow getEvaluation or GET /evaluations/{id}). The scores become the version's metrics.`,
  input: z
    .object({
      agent_id: AgentIdSchema,
      test_suite: z.array(TestCaseSchema).min(1, "test_suite must hold at least one case").max(MAX_SUITE_CASES, `test_suite may hold at most ${MAX_SUITE_CASES} cases`).optional(),
      dataset_id: DatasetRefSchema.optional().describe("A dataset's id (ds_…), or the name of a versioned dataset (its latest version, or dataset_version)"),
      dataset_version: z.number().int().min(1).optional().describe("With a dataset name: the version to test on"),
      split: SplitSchema.default("all").describe("Test on one split of the dataset (test: the inputs no train split of any version holds, near-duplicates included)"),
      evaluation_criteria: CriteriaSchema,
      version: z.number().int().min(1).optional(),
      compare_to: z.union([z.number().int().min(1), z.literal("previous")], { error: 'compare_to must be a version number or "previous"' }).optional(),
      options: EvaluationOptionsSchema.prefault({}),
    })
    .strict()
    .superRefine((v, ctx) => {
      if ((v.test_suite === undefined) === (v.dataset_id === undefined)) ctx.addIssue({ code: "custom", path: ["test_suite"], message: "give exactly one of test_suite or dataset_id" });
      if (v.dataset_version !== undefined && (v.dataset_id === undefined || v.dataset_id.startsWith("ds_"))) ctx.addIssue({ code: "custom", path: ["dataset_version"], message: "dataset_version goes with a dataset name in dataset_id" });
      if (v.split !== "all" && v.dataset_id === undefined) ctx.addIssue({ code: "custom", path: ["split"], message: "split goes with dataset_id" });
    }),
  output: EvaluationViewSchema,
  status: 200,
  statusOf: (view) => (view.status === "queued" ? 202 : 200),
  async handler(ctx, input) {
    const deps = evaluationDeps(ctx.env, ctx.db, ctx.now);
    const record = await startEvaluation(deps, {
      appId: ctx.appId,
      agentId: input.agent_id,
      version: input.version,
      compareTo: input.compare_to,
      cases: input.test_suite,
      datasetId: input.dataset_id,
      datasetVersion: input.dataset_version,
      split: input.split,
      criteria: input.evaluation_criteria,
      options: input.options,
      id: randomId("evl"),
    });
    return evaluationView(ctx.db, record);
  },
});

export const getEvaluation = defineFunction({
  name: "getEvaluation",
  summary: "An evaluation: status, progress and report",
  description: "The same as GET /evaluations/{id}.",
  input: z.object({ evaluation_id: EvaluationIdSchema }).strict(),
  output: EvaluationViewSchema,
  status: 200,
  async handler(ctx, input) {
    return evaluationView(ctx.db, await findEvaluation(ctx.db, ctx.appId, input.evaluation_id));
  },
});

export const listEvaluations = defineFunction({
  name: "listEvaluations",
  summary: "An agent's evaluations, newest first",
  description: "The same as GET /evaluations?agent_id=…",
  input: z.object({ agent_id: AgentIdSchema, limit: z.number().int().min(1).max(100).default(20) }).strict(),
  output: z.object({ evaluations: z.array(EvaluationViewSchema) }),
  status: 200,
  async handler(ctx, input) {
    await findAgent(ctx.db, ctx.appId, input.agent_id);
    const rows = await list(ctx.db, ctx.appId, input.agent_id, input.limit);
    return { evaluations: await Promise.all(rows.map((r) => evaluationView(ctx.db, r))) };
  },
});
