/** Starting an evaluation (testAgent), and its public view. */
import { resolveDatasetRef } from "../data/versions.ts";
import { selectSplit, type Split } from "../data/splits.ts";
import { and, desc, eq, lt } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "../db/client.ts";
import { evaluations, EVALUATION_STATUSES } from "../db/schema.ts";
import { findAgent, resolveVersion, versionById, type Agent, type Version } from "../agent/versions.ts";
import { previousLive } from "../deploy/history.ts";
import { loadExamples } from "../data/datasets.ts";
import { conflict, invalidInput, notFound } from "../errors.ts";
import { putJson } from "../storage/objects.ts";
import { keys } from "../storage/keys.ts";
import { evaluateInline, failEvaluation, judgeWillRun, stepsOf, type Evaluation, type EvaluationDeps } from "./job.ts";
import { ReportSchema } from "./report.ts";
import { MAX_SUITE_CASES, pacing, type EvaluationOptions, type StoredSuite, type TestCase } from "./suite.ts";
import type { Criterion } from "./criteria.ts";
import { versionNumbers } from "../deploy/versions-view.ts";

export interface EvaluationRequest {
  appId: string;
  agentId: string;
  version?: number;
  compareTo?: number | "previous";
  cases?: TestCase[];
  datasetId?: string;
  datasetVersion?: number;
  split?: Split | "all";
  criteria: Criterion[];
  options: EvaluationOptions;
  id: string;
}

/** The version compared with: a number, or "previous" (the version live before this one; else the one numbered just below). */
async function comparedVersion(db: Db, agent: Agent, version: Version, compareTo: number | "previous"): Promise<Version> {
  const { appId, id: agentId } = agent;
  if (compareTo !== "previous") {
    if (compareTo === version.version) throw invalidInput([{ path: "compare_to", message: "compare_to must be another version than the one tested" }]);
    return resolveVersion(db, agent, compareTo);
  }
  const before = await previousLive(db, appId, agentId, version.id);
  if (before) return versionById(db, agent, before);
  if (version.version > 1) return resolveVersion(db, agent, version.version - 1);
  throw conflict("no_previous_version", `version ${version.version} of agent '${agentId}' has no previous version to compare with`);
}

async function suiteCases(deps: EvaluationDeps, req: EvaluationRequest): Promise<TestCase[]> {
  if (req.cases) return req.cases;
  const { row: dataset } = await resolveDatasetRef(deps.db, req.appId, req.datasetId!, req.datasetVersion, "dataset_id");
  const examples = selectSplit(await loadExamples(deps.datasets, req.appId, dataset.id), req.split ?? "all");
  if (examples.length > MAX_SUITE_CASES) throw invalidInput([{ path: "dataset_id", message: `the dataset${req.split && req.split !== "all" ? `'s ${req.split} split` : ""} holds ${examples.length} examples; a suite may hold at most ${MAX_SUITE_CASES}` }]);
  if (examples.length === 0) throw invalidInput([{ path: "split", message: `the dataset's ${req.split} split is empty` }]);
  return examples.map((e) => ({ input: e.input, expected: e.expected_output }));
}

/** Validates and starts an evaluation: answered now when small, else queued. */
export async function startEvaluation(deps: EvaluationDeps, req: EvaluationRequest): Promise<Evaluation> {
  const agent = await findAgent(deps.db, req.appId, req.agentId);
  const version = await resolveVersion(deps.db, agent, req.version);
  const compare = req.compareTo !== undefined ? await comparedVersion(deps.db, agent, version, req.compareTo) : null;
  const cases = await suiteCases(deps, req);
  const suite: StoredSuite = { cases, criteria: req.criteria, options: req.options, compare_version_id: compare?.id ?? null };
  // Each case that calls a language model (the version's or the compared one's answerer, or the judge) slows a step: fewer per step, fewer within the call.
  const usesModel = (v: typeof version | null) => v !== null && v.params.answerer !== undefined && v.params.answerer.mode !== "local";
  const { queued, casesPerStep } = pacing(cases.length, usesModel(version) || usesModel(compare) || (await judgeWillRun(deps, req.appId, suite)));
  const inline = !queued;
  const now = deps.now();
  const record: Evaluation = {
    id: req.id,
    appId: req.appId,
    agentId: agent.id,
    versionId: version.id,
    compareVersionId: compare?.id ?? null,
    status: inline ? "running" : "queued",
    criteria: req.criteria,
    cases: cases.length,
    suiteKey: keys.evaluationSuite(req.appId, req.id),
    done: 0,
    seq: 0,
    queued,
    casesPerStep,
    report: null,
    error: null,
    createdAt: now,
    updatedAt: now,
    finishedAt: null,
  };
  await putJson(deps.checkpoints, record.suiteKey, suite);
  await deps.db.insert(evaluations).values(record);
  if (inline) {
    try {
      await evaluateInline(deps, record, suite);
    } catch (e) {
      await failEvaluation(deps.db, record.id, e instanceof Error ? e.message : String(e), deps.now());
      throw e;
    }
  } else {
    await deps.enqueue({ evaluation_id: record.id, seq: 1 });
  }
  return (await deps.db.query.evaluations.findFirst({ where: eq(evaluations.id, record.id) }))!;
}

export const EvaluationViewSchema = z.object({
  evaluation_id: z.string(),
  agent_id: z.string(),
  version: z.number().int(),
  compare_version: z.number().int().nullable(),
  status: z.enum(EVALUATION_STATUSES),
  criteria: z.array(z.string()),
  cases: z.number().int(),
  progress: z.object({ done: z.number().int(), steps: z.number().int(), step: z.number().int() }),
  report: ReportSchema.nullable().describe("Scores per criterion with details, and the comparisons (once succeeded)"),
  error: z.string().nullable(),
  created_at: z.string(),
  finished_at: z.string().nullable(),
  links: z.object({ self: z.string() }),
});
export type EvaluationView = z.output<typeof EvaluationViewSchema>;

export async function evaluationView(db: Db, e: Evaluation): Promise<EvaluationView> {
  const numbers = await versionNumbers(db, { appId: e.appId, id: e.agentId });
  const report = e.report ? ReportSchema.parse(e.report) : null;
  return {
    evaluation_id: e.id,
    agent_id: e.agentId,
    version: numbers.get(e.versionId) ?? 0,
    compare_version: e.compareVersionId ? (numbers.get(e.compareVersionId) ?? null) : null,
    status: e.status,
    criteria: e.criteria,
    cases: e.cases,
    progress: { done: e.status === "succeeded" ? e.cases : e.done, steps: stepsOf(e), step: e.seq },
    report,
    error: e.error,
    created_at: new Date(e.createdAt).toISOString(),
    finished_at: e.finishedAt === null ? null : new Date(e.finishedAt).toISOString(),
    links: { self: `/evaluations/${e.id}` },
  };
}

export async function findEvaluation(db: Db, appId: string, id: string): Promise<Evaluation> {
  const e = await db.query.evaluations.findFirst({ where: and(eq(evaluations.appId, appId), eq(evaluations.id, id)) });
  if (!e) throw notFound("evaluation", id);
  return e;
}

/** An agent's evaluations, newest first (before: an ISO time, for paging). */
export async function listEvaluations(db: Db, appId: string, agentId: string, limit: number, before?: number): Promise<Evaluation[]> {
  return db
    .select()
    .from(evaluations)
    .where(and(eq(evaluations.appId, appId), eq(evaluations.agentId, agentId), before !== undefined ? lt(evaluations.createdAt, before) : undefined))
    .orderBy(desc(evaluations.createdAt))
    .limit(limit);
}
