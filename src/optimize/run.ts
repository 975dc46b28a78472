/**
 * An optimization in the Worker. analyzeAndOptimize analyzes, splits the live
 * version's training data (one input in ten, by a stable hash, is the final
 * check the search never sees), and fans the first rung of successive
 * halving out as one queue message per trial. A trial trains its
 * configuration on the search set inside its message (pausable work, so
 * serving goes on), and records its validation accuracy only if none is
 * recorded yet — a redelivered or redone trial changes nothing, and training
 * is seeded, so a redo computes the same. The trial that completes a rung
 * advances the optimization (a conditional update: one advancer wins) and
 * fans out the next rung; after the last one, the best configuration and the
 * current one are trained to the full budget and measured on the final check
 * (accuracy, latency, size as a version and as int8; for maximize_accuracy
 * the best also as an ensemble of three networks), and the decision
 * (pareto.ts) is recorded: the winner, if any, trains on all the data as a
 * run of its own — a candidate version, or live with auto_apply.
 */
import { and, asc, eq, isNull, sql } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "../db/client.ts";
import { agents, agentVersions, optimizations, optimizationTrials, trainingRuns, type VersionParams } from "../db/schema.ts";
import { AnswererSchema } from "../llm/answerer.ts";
import { CacheEstimateSchema } from "../agent/cache-estimate.ts";
import { liveChange } from "../deploy/history.ts";
import { tunedVersionInserts } from "../adapt/tuned-version.ts";
import { cachingDecision } from "./caching.ts";
import { ContextPruningSchema } from "./context.ts";
import { findAgent, loadModel, memoriesVersionOf, resolveVersion } from "../agent/versions.ts";
import { loadExamples } from "../data/datasets.ts";
import { canonicalJsonl, parseCanonicalJsonl } from "../data/examples.ts";
import { conflict, notFound } from "../errors.ts";
import { violatesUnique } from "../db/limits.ts";
import { fitWork } from "../model/fit.ts";
import { fnv1a } from "../model/hash.ts";
import { TrainingConfigSchema, resolveHyper, type Example, type Hyper } from "../model/hyper.ts";
import { decodeModel, encodeModel, predict, type AgentModel } from "../model/model.ts";
import { Ensemble } from "../model/ensemble.ts";
import { getBytes, putBytes } from "../storage/objects.ts";
import { Slicer } from "../isolate/slices.ts";
import type { Env } from "../env.ts";
import { checkedPlan } from "../training/plan-run.ts";
import { createRun } from "../training/runs.ts";
import type { QueueMessage, TrialMessage } from "../training/messages.ts";
import { analyze } from "./analysis.ts";
import { rungBudgets, survivors } from "./halving.ts";
import { accuracyDifference, choose, paretoFront, SAME_SPEED, type Candidate, type Constraints, type Goal } from "./pareto.ts";
import { sampleConfigs, shrinkLadder } from "./space.ts";
import { optimizePrompt, plannedCalls, promptVerdict, type PromptData, type PromptReport } from "./prompt.ts";
import type { BudgetSchema } from "./schedule.ts";

/** budget.llm_calls when a stored request has none. */
const DEFAULT_LLM_CALLS = 500;
import { randomId } from "../functions/common.ts";
import { memoryServices, searchMemories, type MemoryServices } from "../memory/store.ts";
import { promptContext, versionPatterns } from "../llm/answer.ts";
import { MAX_MEMORIES_RETRIEVED } from "../agent/decide.ts";
import { chatModel, providerFor, type LlmEnv } from "../llm/provider.ts";
import { priceOf } from "../llm/prices.ts";

export type Optimization = typeof optimizations.$inferSelect;

export interface OptimizeDeps {
  db: Db;
  datasets: R2Bucket;
  checkpoints: R2Bucket;
  slicer: Slicer;
  send: (messages: QueueMessage[]) => Promise<void>;
  now: () => number;
  /** The language model of prompt optimization, and the memories its prompts show (learned answers). */
  llm: LlmEnv;
  memory: MemoryServices;
}

/** What an optimization needs, from the Worker's bindings. */
export function optimizeDeps(ctx: { env: Env; db: Db; now: () => number }): OptimizeDeps {
  return {
    db: ctx.db,
    datasets: ctx.env.DATASETS,
    checkpoints: ctx.env.CHECKPOINTS,
    slicer: new Slicer(),
    send: async (messages) => {
      for (let i = 0; i < messages.length; i += 100) await ctx.env.STEPS.sendBatch(messages.slice(i, i + 100).map((body) => ({ body })));
    },
    now: ctx.now,
    llm: ctx.env,
    memory: memoryServices(ctx.env, () => randomId("mem")),
  };
}

export interface OptimizeRequest {
  goals: Goal[];
  constraints: Constraints;
  /** llm_calls: absent in requests stored before it existed (then the default). */
  budget: Omit<z.output<typeof BudgetSchema>, "llm_calls"> & { llm_calls?: number };
  auto_apply: boolean;
}

/** Too few examples and the final check says nothing: the report says so, and nothing is searched. */
export const MIN_EXAMPLES = 200;
export const MIN_FINAL_CHECK = 15;
const ETA = 3;
/** The rung of the ladders, and of the final comparison. */
const LADDER = -2;
const FINAL = -1;
const MIN_EPOCHS = 2;

interface Stored extends OptimizeRequest {
  seed: number;
  budgets: number[];
  base_run: string;
  search_key: string;
  final_key: string;
}

const inFinalCheck = (e: Example) => fnv1a(e.input.normalize("NFKC").toLowerCase(), 0xf17a) % 10 === 0;
const dataKey = (app: string, id: string, part: string) => `apps/${encodeURIComponent(app)}/optimizations/${id}/${part}.jsonl`;

async function readSet(bucket: R2Bucket, key: string): Promise<Example[]> {
  const bytes = await getBytes(bucket, key);
  if (!bytes) throw new Error(`optimization data ${key} is missing`);
  return parseCanonicalJsonl(new TextDecoder().decode(bytes));
}

export async function startOptimization(deps: OptimizeDeps, req: OptimizeRequest & { appId: string; agentId: string; id: string; seed: number; trigger: "api" | "cron" }): Promise<Optimization> {
  const agent = await findAgent(deps.db, req.appId, req.agentId);
  const live = await resolveVersion(deps.db, agent);
  const baseRun = await deps.db.query.trainingRuns.findFirst({ where: eq(trainingRuns.id, live.runId) });
  if (!baseRun) throw conflict("no_version", `the training run of version ${live.version} is gone; train the agent again`);
  const examples = await loadExamples(deps.datasets, req.appId, baseRun.datasetId);
  const { model } = await loadModel(deps.checkpoints, live);
  const analysis = await analyze(deps.db, deps.checkpoints, agent, live, model, examples, req);
  const now = deps.now();
  const search = examples.filter((e) => !inFinalCheck(e));
  const finalCheck = examples.filter(inFinalCheck);
  const budgets = rungBudgets(MIN_EPOCHS, Math.max(MIN_EPOCHS, baseRun.config.epochs), ETA);
  const stored: Stored = { ...req, budgets, base_run: baseRun.id, search_key: dataKey(req.appId, req.id, "search"), final_key: dataKey(req.appId, req.id, "final") };
  const row: Optimization = {
    id: req.id,
    appId: req.appId,
    agentId: agent.id,
    baseVersionId: live.id,
    request: { goals: req.goals, constraints: req.constraints, budget: req.budget, auto_apply: req.auto_apply, seed: req.seed, budgets, base_run: baseRun.id, search_key: stored.search_key, final_key: stored.final_key },
    status: "searching",
    rung: 0,
    analysis: { ...analysis },
    report: null,
    runId: null,
    trigger: req.trigger,
    error: null,
    createdAt: now,
    updatedAt: now,
    finishedAt: null,
  };
  const insert = async (trialRows: (typeof optimizationTrials.$inferInsert)[]) => {
    try {
      await deps.db.batch([deps.db.insert(optimizations).values(row), ...chunks(trialRows, 10).map((c) => deps.db.insert(optimizationTrials).values(c))]);
    } catch (e) {
      if (violatesUnique(e, "optimizations.app_id, optimizations.agent_id")) throw conflict("optimization_in_progress", `agent '${agent.id}' is already being optimized; wait for it to end (getOptimization)`);
      throw e;
    }
  };
  if (finalCheck.length < MIN_FINAL_CHECK || examples.length < MIN_EXAMPLES) {
    const missing = `the live version trained on ${examples.length} examples (${finalCheck.length} would be the final check); a search needs at least ${MIN_EXAMPLES}, with at least ${MIN_FINAL_CHECK} in the final check: add training data`;
    // Inserted active first, like any optimization: the unique index keeps overlapping starts (two cron ticks) to one.
    await insert([]);
    const side = await sideTechniques(deps, row, stored, false, now, missing);
    await deps.db.batch([
      deps.db
        .update(optimizations)
        .set({
          status: "succeeded",
          runId: side.tuned?.runId ?? null,
          report: { applied: side.tuned?.applied ?? null, reason: `no configuration searched: ${missing}`, missing, techniques: side.report },
          finishedAt: now,
        })
        .where(eq(optimizations.id, req.id)),
      ...side.statements,
    ]);
    return (await deps.db.query.optimizations.findFirst({ where: eq(optimizations.id, req.id) }))!;
  }
  await putBytes(deps.checkpoints, stored.search_key, new TextEncoder().encode(canonicalJsonl(search)), "application/x-ndjson");
  await putBytes(deps.checkpoints, stored.final_key, new TextEncoder().encode(canonicalJsonl(finalCheck)), "application/x-ndjson");
  const configs = sampleConfigs(req.budget.trials, req.seed);
  const trials = configs.map((config, idx) => ({ optimizationId: req.id, rung: 0, idx, config: { ...config }, epochs: budgets[0] }));
  // The ladders (rung -2): the current configuration, and it shrunk along the levers of size and speed, at the full budget.
  const full = budgets[budgets.length - 1];
  const ladders = [
    { current: true },
    ...shrinkLadder("size", baseRun.config).map((c) => ({ ...c, ladder: "size" })),
    ...shrinkLadder("latency", baseRun.config).map((c) => ({ ...c, ladder: "latency" })),
    // A version that answers with a language model: its instructions are optimized beside (prompt.ts), within the call budget.
    ...(live.params.answerer && live.params.answerer.mode !== "local" ? [{ prompt: true, answerer: live.params.answerer, llm_calls: req.budget.llm_calls ?? DEFAULT_LLM_CALLS }] : []),
  ].map((config, idx) => ({ optimizationId: req.id, rung: LADDER, idx, config, epochs: full }));
  await insert([...trials, ...ladders]);
  await deps.send([...trials, ...ladders].map((t) => ({ optimization_id: req.id, rung: t.rung, idx: t.idx })));
  return (await deps.db.query.optimizations.findFirst({ where: eq(optimizations.id, req.id) }))!;
}

function chunks<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

/** The training levers of a trial: the base run's own for "current", else today's defaults with the sampled configuration. */
function trialHyper(config: Record<string, unknown>, epochs: number, base: Hyper, seed: number): Hyper {
  if (config.current === true) return { ...base, epochs, seed };
  if (typeof config.ladder === "string") {
    const { ladder: _, features, ...levers } = config as { ladder: string; features?: Partial<Hyper["features"]> } & Partial<Hyper>;
    return { ...base, ...levers, features: { ...base.features, ...features }, epochs, seed };
  }
  return resolveHyper(TrainingConfigSchema.parse({ ...config, epochs, seed }), () => seed);
}

/** Latency per input on a sample of search inputs (no labels read), and the int8 version's bytes: what a ladder is chosen by. */
function measureOnSearch(model: AgentModel, search: readonly Example[]): Record<string, number> {
  const ens = new Ensemble(model.arch, model.params);
  const timed = search.filter((_, i) => i % 10 === 0).slice(0, 300);
  for (const e of timed.slice(0, 30)) predict(model, e.input, ens);
  const t0 = performance.now();
  for (const e of timed) predict(model, e.input, ens);
  return { latency_ms: (performance.now() - t0) / Math.max(1, timed.length), int8_bytes: encodeModel(model, "int8").length };
}

function measureOnFinalCheck(model: AgentModel, finalCheck: readonly Example[]): Record<string, unknown> {
  const measured = (m: AgentModel) => {
    const ens = new Ensemble(m.arch, m.params);
    const correct = finalCheck.map((e) => m.classes[predict(m, e.input, ens).class] === e.expected_output);
    const timed = finalCheck.slice(0, 300);
    const t0 = performance.now();
    for (const e of timed) predict(m, e.input, ens);
    return { accuracy: correct.filter(Boolean).length / Math.max(1, correct.length), correct: correct.map((c) => (c ? "1" : "0")).join(""), latency_ms: (performance.now() - t0) / Math.max(1, timed.length) };
  };
  const version = encodeModel(model, "version");
  const int8 = encodeModel(model, "int8");
  const work = model.arch.members * (model.arch.dim * model.arch.hidden + model.arch.hidden * model.arch.hidden + model.arch.hidden * model.arch.classes);
  return { version: { ...measured(decodeModel(version)), bytes: version.length, cost: work }, int8: { ...measured(decodeModel(int8)), bytes: int8.length, cost: work } };
}

/** One trial message; then the optimization advances if this trial completed its rung. */
export async function processTrial(deps: OptimizeDeps, msg: TrialMessage): Promise<"trained" | "ignored"> {
  const opt = await deps.db.query.optimizations.findFirst({ where: eq(optimizations.id, msg.optimization_id) });
  if (!opt || (opt.status !== "searching" && opt.status !== "comparing")) return "ignored";
  const trial = await deps.db.query.optimizationTrials.findFirst({ where: and(eq(optimizationTrials.optimizationId, opt.id), eq(optimizationTrials.rung, msg.rung), eq(optimizationTrials.idx, msg.idx)) });
  if (!trial) return "ignored";
  if (trial.score !== null) {
    await advance(deps, opt.id);
    return "ignored";
  }
  const stored = opt.request as unknown as Stored;
  const { score, measures } = trial.config.prompt === true ? await promptTrial(deps, opt, stored, trial.config) : await trainingTrial(deps, stored, trial, msg);
  await deps.db.batch([
    deps.db
      .update(optimizationTrials)
      .set({ score, measures, finishedAt: deps.now() })
      .where(and(eq(optimizationTrials.optimizationId, opt.id), eq(optimizationTrials.rung, msg.rung), eq(optimizationTrials.idx, msg.idx), sql`${optimizationTrials.score} IS NULL`)),
    // The heartbeat the watchdog reads.
    deps.db.update(optimizations).set({ updatedAt: deps.now() }).where(eq(optimizations.id, opt.id)),
  ]);
  await advance(deps, opt.id);
  return "trained";
}

/** A trial that trains its configuration on the search set: its validation accuracy, and what its rung measures. */
async function trainingTrial(deps: OptimizeDeps, stored: Stored, trial: typeof optimizationTrials.$inferSelect, msg: TrialMessage) {
  const baseRun = await deps.db.query.trainingRuns.findFirst({ where: eq(trainingRuns.id, stored.base_run) });
  if (!baseRun) throw new Error(`the base run ${stored.base_run} is gone`);
  const search = await readSet(deps.checkpoints, stored.search_key);
  const hyper = trialHyper(trial.config, trial.epochs, baseRun.config, stored.seed);
  const fitted = await deps.slicer.run(fitWork(search, hyper));
  const score = fitted.epochs.find((e) => e.epoch === fitted.best_epoch)?.valid_accuracy ?? 0;
  const measures = msg.rung === FINAL ? measureOnFinalCheck(fitted.model, await readSet(deps.checkpoints, stored.final_key)) : msg.rung === LADDER ? measureOnSearch(fitted.model, search) : null;
  return { score, measures };
}

/** The prompt trial (prompt.ts): the instructions that won on validation (their validation accuracy), and its report. */
async function promptTrial(deps: OptimizeDeps, opt: Optimization, stored: Stored, config: Record<string, unknown>) {
  const answerer = AnswererSchema.parse(config.answerer);
  const allowed = typeof config.llm_calls === "number" ? config.llm_calls : DEFAULT_LLM_CALLS;
  const needed = plannedCalls(stored.goals);
  const live = allowed < needed ? undefined : await deps.db.query.agentVersions.findFirst({ where: eq(agentVersions.id, opt.baseVersionId) });
  const provider = live ? await providerFor(deps.db, deps.llm, opt.appId) : null;
  let prompt: PromptReport;
  if (allowed < needed) prompt = { status: "not_applicable", reason: `budget.llm_calls ${allowed} is below the ${needed} language-model calls prompt optimization may need for these goals: it did not run` };
  else if (!live) prompt = { status: "not_applicable", reason: "the version optimized is gone" };
  else if (!provider) prompt = { status: "not_applicable", reason: "the app has no language model now: set one with setLLMCredentials (or OPENAI_API_KEY)" };
  else {
    const [search, finalCheck, patterns] = await Promise.all([readSet(deps.checkpoints, stored.search_key), readSet(deps.checkpoints, stored.final_key), versionPatterns(deps.memory, opt.appId, live)]);
    // hybrid: the network's own answers and calibrated confidence, for its threshold.
    let network: PromptData["network"];
    if (answerer.mode === "hybrid") {
      const { model } = await loadModel(deps.checkpoints, live);
      const ens = new Ensemble(model.arch, model.params);
      network = {
        answer: (input) => {
          const p = predict(model, input, ens);
          return { answer: model.classes[p.class], confidence: p.confidence };
        },
        defaultThreshold: live.params.confidence_threshold,
      };
    }
    // The memories executeAgent would show the model for an input, retrieved as it retrieves them.
    const context = async (input: string) => promptContext(answerer, await searchMemories(deps.memory, opt.appId, { agentId: opt.agentId, query: input, topK: MAX_MEMORIES_RETRIEVED, versionId: memoriesVersionOf(live) }));
    const price = priceOf(answerer.model, answerer.price, deps.llm.LLM_PRICES);
    prompt = await optimizePrompt(chatModel(provider, answerer.model), answerer, price, { search, finalCheck, patterns, network, context }, stored.seed, stored.goals, stored.constraints);
  }
  const score = prompt.status !== "measured" ? 0 : prompt.chosen !== null ? prompt.candidates[prompt.chosen].validation_accuracy : prompt.current.validation_accuracy;
  return { score, measures: { prompt } };
}

/** Moves the optimization on when its current rung (or the final comparison) is complete; safe to call any number of times. */
export async function advance(deps: OptimizeDeps, id: string): Promise<void> {
  const opt = await deps.db.query.optimizations.findFirst({ where: eq(optimizations.id, id) });
  if (!opt || (opt.status !== "searching" && opt.status !== "comparing")) return;
  const stored = opt.request as unknown as Stored;
  const now = deps.now();
  const rows = await deps.db.select().from(optimizationTrials).where(and(eq(optimizationTrials.optimizationId, id), eq(optimizationTrials.rung, opt.rung))).orderBy(asc(optimizationTrials.idx));
  const outOfTime = now - opt.createdAt > stored.budget.minutes * 60_000;
  const done = rows.filter((r) => r.score !== null);
  if (opt.status === "searching") {
    if (done.length < rows.length && !(outOfTime && done.length > 0)) return;
    const ranked = [...done].sort((a, b) => b.score! - a.score! || a.idx - b.idx);
    const next = opt.rung + 1;
    if (next < stored.budgets.length && !outOfTime) {
      const keep = ranked.slice(0, survivors(stored.budget.trials, ETA, next)).map((r, idx) => ({ optimizationId: id, rung: next, idx, config: r.config, epochs: stored.budgets[next] }));
      const [moved] = await deps.db.batch([
        deps.db.update(optimizations).set({ rung: next, updatedAt: now }).where(and(eq(optimizations.id, id), eq(optimizations.rung, opt.rung), eq(optimizations.status, "searching"))),
        ...keep.map((t) => deps.db.insert(optimizationTrials).values(t).onConflictDoNothing()),
      ]);
      if (moved.meta.changes > 0) await deps.send(keep.map((t) => ({ optimization_id: id, rung: next, idx: t.idx })));
      return;
    }
    // The final comparison waits for the ladders (unless out of time with some done).
    const ladders = await deps.db.select().from(optimizationTrials).where(and(eq(optimizationTrials.optimizationId, id), eq(optimizationTrials.rung, LADDER))).orderBy(asc(optimizationTrials.idx));
    const laddersDone = ladders.filter((l) => l.score !== null);
    if (laddersDone.length < ladders.length && !(outOfTime && laddersDone.some((l) => l.config.current === true))) return;
    // The final comparison on the final check, at the full budget: the search's best, the current configuration, and
    // each ladder's pick — the smallest (int8 bytes) and the fastest within 0.005 of the current one's validation accuracy.
    const full = stored.budgets[stored.budgets.length - 1];
    const currentValid = laddersDone.find((l) => l.config.current === true)?.score ?? 0;
    const feasible = (kind: string) => laddersDone.filter((l) => l.config.ladder === kind && l.score! >= currentValid - 0.005);
    const by = (key: "int8_bytes" | "latency_ms") => (a: (typeof ladders)[number], b: (typeof ladders)[number]) => Number(a.measures![key]) - Number(b.measures![key]);
    const size = feasible("size").sort(by("int8_bytes"))[0];
    // The fastest, timings within SAME_SPEED of it counting as a tie (one timing pass is noisier than that): then the better validation accuracy.
    const quick = feasible("latency");
    const minMs = Math.min(...quick.map((l) => Number(l.measures!.latency_ms)));
    const speed = quick.filter((l) => Number(l.measures!.latency_ms) <= minMs * (1 + SAME_SPEED)).sort((a, b) => b.score! - a.score! || by("latency_ms")(a, b))[0];
    const best = ranked[0];
    const final = [
      { optimizationId: id, rung: FINAL, idx: 0, config: best.config, epochs: full },
      { optimizationId: id, rung: FINAL, idx: 1, config: { current: true }, epochs: full },
      ...(size ? [{ optimizationId: id, rung: FINAL, idx: 2, config: size.config, epochs: full }] : []),
      ...(speed ? [{ optimizationId: id, rung: FINAL, idx: 3, config: speed.config, epochs: full }] : []),
      // For accuracy, the search's best as three networks averaged (an ensemble's gain is the steadiest one there is; the final check confirms it).
      ...(stored.goals.includes("maximize_accuracy") && Number(best.config.ensemble ?? 1) < ENSEMBLE_OF_BEST
        ? [{ optimizationId: id, rung: FINAL, idx: 4, config: { ...best.config, ensemble: ENSEMBLE_OF_BEST }, epochs: full }]
        : []),
    ];
    const [moved] = await deps.db.batch([
      deps.db.update(optimizations).set({ rung: FINAL, status: "comparing", updatedAt: now }).where(and(eq(optimizations.id, id), eq(optimizations.rung, opt.rung), eq(optimizations.status, "searching"))),
      ...final.map((t) => deps.db.insert(optimizationTrials).values(t).onConflictDoNothing()),
    ]);
    if (moved.meta.changes > 0) await deps.send(final.map((t) => ({ optimization_id: id, rung: FINAL, idx: t.idx })));
    return;
  }
  if (done.length < rows.length) return;
  await decide(deps, opt, stored, rows);
}

type Measured = { accuracy: number; correct: string; latency_ms: number; bytes: number; cost: number };

function candidateOf(name: string, m: Measured): Candidate {
  return { name, accuracy: m.accuracy, latencyMs: m.latency_ms, bytes: m.bytes, cost: m.cost, correct: [...m.correct].map((c) => c === "1") };
}

const FINAL_NAMES = ["searched configuration", "current configuration", "size ladder's pick", "speed ladder's pick", "searched configuration, 3 networks"];
/** Networks of the ensemble the search's best is also tried as (maximize_accuracy). */
const ENSEMBLE_OF_BEST = 3;

/** What decide reads back of the analysis: the cache's replays and context pruning. */
const StoredTechniquesSchema = z.object({
  caching: z.object({ ttl_seconds: z.number().nullable(), estimates: z.array(CacheEstimateSchema) }),
  context_pruning: ContextPruningSchema,
});

const TECHNIQUE_NAMES = { context_pruning: "context pruning", prompt_optimization: "prompt optimization" } as const;

/** What a technique without training changes in the live version, and why (it passed its held-out check). */
interface TunedChange {
  technique: keyof typeof TECHNIQUE_NAMES;
  params: Partial<VersionParams>;
  settings: string;
  reason: string;
}

/**
 * Techniques that passed their held-out checks become one version when no
 * network won (a new network's settings are its own to tune): the live
 * network with their settings — a candidate, or live with auto_apply. With
 * both, the prompt's version also carries the pruned context.
 */
async function tunedVersion(deps: OptimizeDeps, opt: Optimization, stored: Stored, changes: readonly TunedChange[], now: number) {
  if (changes.length === 0) return null;
  const live = await deps.db.query.agentVersions.findFirst({ where: eq(agentVersions.id, opt.baseVersionId) });
  const baseRun = await deps.db.query.trainingRuns.findFirst({ where: eq(trainingRuns.id, stored.base_run) });
  if (!live || !baseRun) return null;
  // A deterministic id: a redone decision creates nothing twice (the prefix is context pruning's, which made such versions first).
  const runId = `run_ctx_${opt.id.slice(4)}`;
  const named = changes.map((c) => TECHNIQUE_NAMES[c.technique]);
  const kind = changes.some((c) => c.technique === "prompt_optimization") ? "prompt_optimization" : "context_pruning";
  const reason = changes.map((c, i) => `${named[i]}: ${c.reason}`).join("; ");
  const tuned = tunedVersionInserts(deps.db, {
    appId: opt.appId,
    agentId: opt.agentId,
    live,
    baseRun,
    runId,
    kind,
    params: Object.assign({ ...live.params }, ...changes.map((c) => c.params)),
    metrics: { ...live.metrics, optimization: { id: opt.id, technique: changes.map((c) => c.technique).join("+"), base_version: live.version, reason } },
    now,
  });
  const statements = [
    ...tuned.inserts.map((i) => i.onConflictDoNothing()),
    ...(stored.auto_apply
      ? liveChange(deps.db, {
          appId: opt.appId,
          agentId: opt.agentId,
          toVersionId: tuned.versionId,
          action: "optimization",
          actor: opt.trigger,
          reason: `optimization ${opt.id} (${named.join(", ")}): ${reason}`,
          recordId: `dep_${tuned.versionId}`,
          now,
          whileLive: live.id,
        })
      : []),
  ];
  return { runId, statements, techniques: named.join(" and "), applied: `run ${runId} made the live network with ${changes.map((c) => c.settings).join(" and ")} a ${stored.auto_apply ? "live version (auto_apply)" : "candidate version"}` };
}

/**
 * The techniques that need no training (context pruning, the caching
 * strategy, prompt optimization), judged on what the analysis and the prompt
 * trial measured: their part of the report, and the statements that apply
 * them (batched with the optimization's end).
 */
async function sideTechniques(deps: OptimizeDeps, opt: Optimization, stored: Stored, networkWon: boolean, now: number, noSearch: string | null = null) {
  const techniques = StoredTechniquesSchema.safeParse(opt.analysis);
  if (!techniques.success) return { report: {}, statements: [], tuned: null, answerer: null };
  const caching = cachingDecision(techniques.data.caching, stored.goals, stored.auto_apply);
  const pruning = techniques.data.context_pruning;
  const ladders = await deps.db.select().from(optimizationTrials).where(and(eq(optimizationTrials.optimizationId, opt.id), eq(optimizationTrials.rung, LADDER)));
  const prompt = promptVerdict(
    ladders.find((l) => l.config.prompt === true),
    stored.goals,
    stored.constraints,
    noSearch,
  );
  const changes: TunedChange[] = [
    ...(pruning.status === "measured" && pruning.passed
      ? [{ technique: "context_pruning" as const, params: pruning.chosen, settings: `memories_per_execution ${pruning.chosen.memories_per_execution}, demo_min_similarity ${pruning.chosen.demo_min_similarity}`, reason: pruning.reason }]
      : []),
    ...(prompt.proposed ? [{ technique: "prompt_optimization" as const, params: { answerer: prompt.proposed }, settings: "the proposed instructions", reason: prompt.reason }] : []),
  ];
  const tuned = networkWon ? null : await tunedVersion(deps, opt, stored, changes, now);
  const notApplied = "not applied: a new network won, and its settings are its own to tune";
  const switchOn =
    caching.apply && caching.recommended
      ? [deps.db.update(agents).set({ executionCache: { ttl_seconds: caching.recommended.ttl_seconds }, updatedAt: now }).where(and(eq(agents.appId, opt.appId), eq(agents.id, opt.agentId), isNull(agents.executionCache)))]
      : [];
  return {
    report: {
      context_pruning: pruning.status === "measured" ? { ...pruning, applied: tuned?.applied ?? (pruning.passed && networkWon ? notApplied : null) } : pruning,
      caching: { ...caching, estimates: techniques.data.caching.estimates },
      prompt_optimization: prompt.proposed ? { ...prompt.report, applied: tuned?.applied ?? (networkWon ? "applied with the new network: its run's version answers with the proposed instructions" : null) } : prompt.report,
    },
    statements: [...(tuned?.statements ?? []), ...switchOn],
    /** The version the techniques without training made (when no network won). */
    tuned,
    /** The answerer a winning network's version keeps: the live one's, with the proposed instructions when they passed. */
    answerer: prompt.proposed ?? prompt.answerer,
  };
}

async function decide(deps: OptimizeDeps, opt: Optimization, stored: Stored, rows: (typeof optimizationTrials.$inferSelect)[]): Promise<void> {
  const measured = rows.map((r) => ({ row: r, m: r.measures as { version: Measured; int8: Measured } }));
  const current = measured.find((x) => x.row.idx === 1)!;
  const base = candidateOf(FINAL_NAMES[1], current.m.version);
  const options = [
    ...measured.filter((x) => x.row.idx !== 1).map((x) => ({ row: x.row, precision: "float16" as const, c: candidateOf(FINAL_NAMES[x.row.idx], x.m.version) })),
    ...measured.map((x) => ({ row: x.row, precision: "int8" as const, c: candidateOf(`${FINAL_NAMES[x.row.idx]} as int8`, x.m.int8) })),
  ];
  const candidates = [base, ...options.map((o) => o.c)];
  // The search's best as one network or three: the search set's validation accuracy picks one, so that the final check only confirms.
  const one = rows.find((r) => r.idx === 0);
  const three = rows.find((r) => r.idx === 4);
  const passedOver = one && three ? ((three.score ?? 0) > (one.score ?? 0) ? 0 : 4) : null;
  const eligible = options.filter((o) => o.row.idx !== passedOver);
  // Each was chosen on the search set (the search's best, the ladders' picks): the final check confirms, at its measured value.
  const verdict = choose(
    eligible.map((o) => o.c),
    base,
    stored.goals,
    stored.constraints,
  );
  const win = eligible.find((o) => o.c === verdict.chosen) ?? null;
  const winner = win?.row ?? null;
  const now = deps.now();
  const view = (c: Candidate) => ({ name: c.name, accuracy: c.accuracy, latency_ms: c.latencyMs, bytes: c.bytes, cost: c.cost });
  let runId: string | null = null;
  let applied: string | null = null;
  let reason = verdict.reason;
  let side = await sideTechniques(deps, opt, stored, verdict.chosen !== null, now);
  if (verdict.chosen) {
    // The winner trains on all the data as a run of its own (a deterministic id: redoing this creates nothing twice).
    const agent = await findAgent(deps.db, opt.appId, opt.agentId);
    const baseRun = await deps.db.query.trainingRuns.findFirst({ where: eq(trainingRuns.id, stored.base_run) });
    const examples = await loadExamples(deps.datasets, opt.appId, baseRun!.datasetId);
    // A language-model agent's new network keeps its answerer (with the proposed instructions, when they passed).
    const hyper = { ...trialHyper(winner!.config, winner!.epochs, baseRun!.config, stored.seed), version_precision: win!.precision, ...(side.answerer && { answerer: side.answerer }) };
    try {
      const plan = checkedPlan([examples], hyper, "dataset_id");
      runId = `run_${opt.id.slice(4)}`;
      await createRun(deps.db, null, {
        id: runId,
        appId: opt.appId,
        agentId: agent.id,
        status: "queued",
        trainingType: "supervised",
        deploy: stored.auto_apply ? "immediate" : "candidate",
        datasetId: baseRun!.datasetId,
        config: hyper,
        plan,
        createdAt: now,
        updatedAt: now,
      }).catch((e) => {
        if (!violatesUnique(e, "training_runs.id")) throw e;
      });
      applied = `run ${runId} trains the ${verdict.chosen!.name} on all ${examples.length} examples: ${stored.auto_apply ? "it goes live when it succeeds (auto_apply)" : "a candidate version (promoteVersion, a rollout or an experiment makes it live)"}`;
    } catch (e) {
      runId = null;
      reason = `${verdict.reason}; but it cannot run as a Worker run: ${e instanceof Error ? e.message : String(e)}`;
      // No new network after all: the techniques without training may apply (judged again as such; nothing was written yet).
      side = await sideTechniques(deps, opt, stored, false, now);
    }
  }
  if (side.tuned) {
    runId = side.tuned.runId;
    applied = side.tuned.applied;
    reason = `${reason}; ${side.tuned.techniques} passed held-out checks instead`;
  }
  const report = {
    goals: stored.goals,
    constraints: stored.constraints,
    candidates: candidates.map((c) => ({ ...view(c), accuracy_difference: accuracyDifference(c, base) })),
    pareto_front: paretoFront(candidates).map((c) => c.name),
    // Measured beside the others, eligible only when the search set's validation prefers it.
    best_as_ensemble: one && three ? { validation: { one_network: one.score, three_networks: three.score }, eligible: passedOver === 0 ? "three networks" : "one network" } : null,
    decision: { chosen: verdict.chosen?.name ?? null, reason, applied },
    techniques: {
      hyperparameter_tuning: `successive halving over ${stored.budget.trials} configurations, rungs of ${stored.budgets.join(", ")} epochs, ranked on the search set's validation split`,
      model_compression: "the size ladder (fewer vocabulary rows, a smaller dim) and int8 versions (config.version_precision: a scale per row), measured on the final check",
      latency: "the speed ladder (fewer character and word n-grams, narrower layers)",
      ...side.report,
    },
    trials: await deps.db.select({ rung: optimizationTrials.rung, idx: optimizationTrials.idx, config: optimizationTrials.config, epochs: optimizationTrials.epochs, score: optimizationTrials.score }).from(optimizationTrials).where(eq(optimizationTrials.optimizationId, opt.id)),
  };
  const [ended] = await deps.db.batch([
    deps.db.update(optimizations).set({ status: "succeeded", report, runId, finishedAt: now, updatedAt: now }).where(and(eq(optimizations.id, opt.id), eq(optimizations.status, "comparing"))),
    ...side.statements,
  ]);
  // A network winner trains as a queued run (a tuned version needs no training).
  if (ended.meta.changes > 0 && runId && !side.tuned) await deps.send([{ run_id: runId, seq: 1 }]);
}

/**
 * The watchdog: an active optimization that has not moved for `staleMs` lost
 * trial messages — those of its trials without a score (the current rung's,
 * the ladders' while searching) are sent again; a duplicate is harmless.
 */
export async function rescueStaleOptimizations(deps: OptimizeDeps, staleMs: number, limit = 20): Promise<string[]> {
  const now = deps.now();
  const stale = await deps.db
    .select()
    .from(optimizations)
    .where(and(sql`${optimizations.status} IN ('searching', 'comparing')`, sql`${optimizations.updatedAt} < ${now - staleMs}`))
    .limit(limit);
  for (const o of stale) {
    const rungs = o.status === "searching" ? [o.rung, LADDER] : [FINAL];
    const open = await deps.db
      .select({ rung: optimizationTrials.rung, idx: optimizationTrials.idx })
      .from(optimizationTrials)
      .where(and(eq(optimizationTrials.optimizationId, o.id), sql`${optimizationTrials.rung} IN (${sql.join(rungs.map((r) => sql`${r}`), sql`, `)})`, sql`${optimizationTrials.score} IS NULL`));
    if (open.length > 0) await deps.send(open.map((t) => ({ optimization_id: o.id, rung: t.rung, idx: t.idx })));
    else await advance(deps, o.id);
    await deps.db.update(optimizations).set({ updatedAt: now }).where(eq(optimizations.id, o.id));
  }
  return stale.map((o) => o.id);
}

export async function failOptimization(db: Db, id: string, error: string, now: number): Promise<void> {
  await db.update(optimizations).set({ status: "failed", error, finishedAt: now, updatedAt: now }).where(and(eq(optimizations.id, id), sql`${optimizations.status} IN ('searching', 'comparing')`));
}

export async function findOptimization(db: Db, appId: string, id: string): Promise<Optimization> {
  const o = await db.query.optimizations.findFirst({ where: and(eq(optimizations.appId, appId), eq(optimizations.id, id)) });
  if (!o) throw notFound("optimization", id);
  return o;
}
