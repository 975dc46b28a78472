/**
 * Evaluations: testAgent starts one; a small suite is answered within the
 * call, a large one as a queued job of steps (its casesPerStep cases each: fewer when cases call a language model), with
 * the step protocol of training runs — a step's results go to R2 first, then
 * the evaluation advances in D1 only if it is still at the previous step, so
 * duplicated, redelivered or crashed steps never count a case twice or lose
 * one. The last step builds the report from every part and, in one batch,
 * ends the evaluation, annotates the version's metrics and records the
 * scores as metrics.
 */
import { and, eq, inArray, lt, sql, type SQL } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "../db/client.ts";
import { agentVersions, evaluations, trainingRuns } from "../db/schema.ts";
import { pointsWhile } from "../metrics/record.ts";
import { answererFor } from "../agent/execute.ts";
import { findAgent, versionById, type Version } from "../agent/versions.ts";
import { chatModel, providerFor, type LlmEnv } from "../llm/provider.ts";
import { languageModelJudge, type Judge } from "./judge.ts";
import { findDataset, loadExamples } from "../data/datasets.ts";
import { memoryServices, type MemoryServices } from "../memory/store.ts";
import type { Env } from "../env.ts";
import { randomId } from "../functions/common.ts";
import { getJson, putJson } from "../storage/objects.ts";
import { keys } from "../storage/keys.ts";
import { CentroidBaseline } from "./baseline.ts";
import { evaluateCases, type CaseRecord, type Evaluators } from "./evaluate.ts";
import { buildReport, ReportSchema, type Report } from "./report.ts";
import type { EvaluationMessage } from "../training/messages.ts";
import { StoredSuiteSchema, type StoredSuite } from "./suite.ts";

export type Evaluation = typeof evaluations.$inferSelect;

export interface EvaluationDeps {
  db: Db;
  datasets: R2Bucket;
  checkpoints: R2Bucket;
  memory: MemoryServices;
  enqueue: (msg: EvaluationMessage) => Promise<void>;
  now: () => number;
  /** Where versions with a language-model answerer find their model. */
  llm?: LlmEnv;
}


export function evaluationDeps(env: Env, db: Db, now: () => number): EvaluationDeps {
  return {
    db,
    datasets: env.DATASETS,
    checkpoints: env.CHECKPOINTS,
    memory: memoryServices(env, () => randomId("mem")),
    enqueue: async (msg) => {
      await env.STEPS.send(msg);
    },
    now,
    llm: env,
  };
}

export const stepsOf = (e: Pick<Evaluation, "cases" | "casesPerStep" | "queued">) => (e.queued ? Math.max(1, Math.ceil(e.cases / e.casesPerStep)) : 1);

/** The baseline from the version's training data (the dataset of its run); null when that data is gone. */
async function baselineFor(deps: EvaluationDeps, version: Version, model: Evaluators["main"]["model"]): Promise<CentroidBaseline | null> {
  const run = await deps.db.query.trainingRuns.findFirst({ columns: { datasetId: true }, where: eq(trainingRuns.id, version.runId) });
  if (!run) return null;
  if (!(await findDataset(deps.db, version.appId, run.datasetId))) return null;
  try {
    return new CentroidBaseline(model, await loadExamples(deps.datasets, version.appId, run.datasetId));
  } catch {
    return null;
  }
}

/** The language-model judge of relevance and safety: when the suite wants one and the app has a model. */
/** Whether the suite's relevance and safety will be graded by a language model (the app has one, and the suite allows it). */
export async function judgeWillRun(deps: EvaluationDeps, appId: string, suite: Pick<StoredSuite, "options" | "criteria">): Promise<boolean> {
  return suite.options.use_judge && !!deps.llm && suite.criteria.some((c) => c === "relevance" || c === "safety") && (await providerFor(deps.db, deps.llm, appId)) !== null;
}

async function judgeFor(deps: EvaluationDeps, appId: string, suite: StoredSuite): Promise<Judge | null> {
  if (!suite.options.use_judge || !deps.llm || !suite.criteria.some((c) => c === "relevance" || c === "safety")) return null;
  const provider = await providerFor(deps.db, deps.llm, appId);
  if (!provider) return null;
  const name = suite.options.judge_model ?? deps.llm.LLM_MODEL ?? "gpt-4o-mini";
  return languageModelJudge(chatModel(provider, name), name);
}

export async function evaluatorsFor(deps: EvaluationDeps, record: Evaluation, suite: StoredSuite): Promise<{ ev: Evaluators; compareLabel: string | null }> {
  const agent = await findAgent(deps.db, record.appId, record.agentId);
  const version = await versionById(deps.db, agent, record.versionId);
  const main = await answererFor(deps.checkpoints, deps.memory, record.appId, agent.id, version);
  const compareVersion = record.compareVersionId ? await versionById(deps.db, agent, record.compareVersionId) : null;
  const compare = compareVersion ? await answererFor(deps.checkpoints, deps.memory, record.appId, agent.id, compareVersion) : null;
  const needsLabels = suite.cases.some((c) => c.expected !== undefined && !c.should_refuse);
  const baseline = needsLabels ? await baselineFor(deps, version, main.model) : null;
  return {
    ev: {
      main,
      compare,
      baseline,
      embedder: deps.memory.embedder,
      criteria: suite.criteria,
      options: suite.options,
      llm: deps.llm && { db: deps.db, env: deps.llm, memory: deps.memory },
      judge: await judgeFor(deps, record.appId, suite),
    },
    compareLabel: compareVersion ? `version ${compareVersion.version}` : null,
  };
}

/** The statements that end an evaluation with its report (only while `at` holds), for one batch. */
function finishStatements(db: Db, record: Evaluation, report: Report, at: SQL, seq: number, now: number) {
  const annotation = JSON.stringify({ id: record.id, cases: report.cases, scores: report.scores, at: now });
  const still = sql`EXISTS (SELECT 1 FROM ${evaluations} WHERE ${at})`;
  return [
    db
      .update(agentVersions)
      .set({ metrics: sql`json_set(${agentVersions.metrics}, '$.evaluation', json(${annotation}))` })
      .where(and(eq(agentVersions.appId, record.appId), eq(agentVersions.id, record.versionId), still)),
    ...pointsWhile(
      db,
      evaluations,
      at,
      Object.entries(report.scores).map(([name, value]) => ({ appId: record.appId, agentId: record.agentId, type: "evaluation" as const, name: `evaluation.${name}`, value, at: now })),
    ),
    db.update(evaluations).set({ status: "succeeded", report, seq, done: record.cases, finishedAt: now, updatedAt: now }).where(at),
  ] as const;
}

/** Evaluates the whole suite now (small suites) and stores the report. */
export async function evaluateInline(deps: EvaluationDeps, record: Evaluation, suite: StoredSuite): Promise<void> {
  const { ev, compareLabel } = await evaluatorsFor(deps, record, suite);
  const records = await evaluateCases(ev, suite.cases, 0);
  const report = buildReport(records, suite.criteria, suite.options, ev.embedder.name, compareLabel);
  const at = and(eq(evaluations.id, record.id), eq(evaluations.seq, 0))!;
  await deps.db.batch(finishStatements(deps.db, record, report, at, 1, deps.now()));
}

const PartSchema = z.array(z.custom<CaseRecord>((v) => typeof v === "object" && v !== null && "main" in v));

/** One step of a queued evaluation; "done" when the message needs nothing more. */
export async function processEvaluationStep(deps: EvaluationDeps, msg: EvaluationMessage): Promise<"advanced" | "finished" | "ignored"> {
  const record = await deps.db.query.evaluations.findFirst({ where: eq(evaluations.id, msg.evaluation_id) });
  if (!record || record.status === "succeeded" || record.status === "failed") return "ignored";
  const total = stepsOf(record);
  if (record.seq >= msg.seq) {
    // Committed before (a redelivery): make sure the next step was sent.
    if (record.seq === msg.seq && msg.seq < total) await deps.enqueue({ evaluation_id: record.id, seq: msg.seq + 1 });
    return "ignored";
  }
  if (record.seq < msg.seq - 1) return "ignored";
  const suite = StoredSuiteSchema.parse(await getJson(deps.checkpoints, keys.evaluationSuite(record.appId, record.id)));
  const { ev, compareLabel } = await evaluatorsFor(deps, record, suite);
  const from = (msg.seq - 1) * record.casesPerStep;
  const slice = suite.cases.slice(from, from + record.casesPerStep);
  const records = await evaluateCases(ev, slice, from);
  const at = and(eq(evaluations.id, record.id), eq(evaluations.seq, msg.seq - 1))!;
  const now = deps.now();
  if (msg.seq < total) {
    await putJson(deps.checkpoints, keys.evaluationPart(record.appId, record.id, msg.seq), records);
    const advanced = await deps.db.update(evaluations).set({ seq: msg.seq, done: from + slice.length, status: "running", updatedAt: now }).where(at);
    if (advanced.meta.changes > 0) await deps.enqueue({ evaluation_id: record.id, seq: msg.seq + 1 });
    return "advanced";
  }
  const all: CaseRecord[] = [];
  for (let s = 1; s < msg.seq; s++) all.push(...PartSchema.parse(await getJson(deps.checkpoints, keys.evaluationPart(record.appId, record.id, s))));
  all.push(...records);
  const report = ReportSchema.parse(buildReport(all, suite.criteria, suite.options, ev.embedder.name, compareLabel));
  await deps.db.batch(finishStatements(deps.db, record, report, at, msg.seq, now));
  return "finished";
}

/**
 * The watchdog: an evaluation that has not advanced for `staleMs` lost its
 * next message (its step is sent again; a duplicate is ignored), or — when
 * it was answered within a call that ended before finishing — fails with the
 * reason.
 */
export async function rescueStaleEvaluations(deps: EvaluationDeps, staleMs: number, limit = 50): Promise<string[]> {
  const now = deps.now();
  const stale = await deps.db
    .select()
    .from(evaluations)
    .where(and(inArray(evaluations.status, ["queued", "running"]), lt(evaluations.updatedAt, now - staleMs)))
    .limit(limit);
  for (const e of stale) {
    if (!e.queued) {
      await failEvaluation(deps.db, e.id, "the call that was answering this evaluation ended before it finished (a CPU or memory limit, or a dropped connection); run testAgent again", now);
      continue;
    }
    await deps.enqueue({ evaluation_id: e.id, seq: e.seq + 1 });
    await deps.db.update(evaluations).set({ updatedAt: now }).where(and(eq(evaluations.id, e.id), eq(evaluations.seq, e.seq)));
  }
  return stale.map((e) => e.id);
}

export async function failEvaluation(d: Db, id: string, error: string, now: number): Promise<void> {
  await d.update(evaluations).set({ status: "failed", error, finishedAt: now, updatedAt: now }).where(and(eq(evaluations.id, id), sql`${evaluations.status} IN ('queued', 'running')`));
}

