/**
 * Starting an adaptation (adaptAgentBehavior, or the cron): read what the
 * live version's users said, refuse clearly when it is too little, write the
 * run's data to R2, and create the run (a queue run like trainAgent's, with
 * the same step protocol and crash guarantees) and its adaptation record in
 * one batch. The run trains a candidate; its final step runs the safety gate
 * (gate.ts) and promotes the candidate only if it passes.
 */
import { and, eq, inArray } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { adaptations, agents, trainingRuns } from "../db/schema.ts";
import type { Env } from "../env.ts";
import { conflict } from "../errors.ts";
import { findAgent, resolveVersion } from "../agent/versions.ts";
import { loadExamples } from "../data/datasets.ts";
import { keys } from "../storage/keys.ts";
import { putBytes } from "../storage/objects.ts";
import { violatesUnique } from "../db/limits.ts";
import { findRun, noteStepError } from "../training/runs.ts";
import { planRun } from "../model/plan.ts";
import { NO_EXPLORATION } from "../model/policy.ts";
import { Rng } from "../model/rng.ts";
import { modelText } from "../model/context.ts";
import { dataShape, stepFootprint } from "../model/footprint.ts";
import { learnedMemoryCount } from "../memory/learned.ts";
import { MIB, STEP_BUDGET_BYTES } from "../isolate/budget.ts";
import type { RewardFunction } from "../model/adaptation.ts";
import type { Hyper } from "../model/hyper.ts";
import { labeledRows, loggedRows, MAX_TRACED_ROWS, splitRows, tracedRows } from "./data.ts";
import { answerKinds } from "./replay.ts";
import { kindStats } from "./reward-model.ts";
import { executionSettings } from "../agent/decide.ts";
import { adaptationSizes, anchorFor, type AdaptationData } from "./run-data.ts";

/** Strategies that train a new version in a queue run. */
export const RUN_STRATEGIES = ["reinforcement", "context_aware", "online"] as const;
export type RunStrategy = (typeof RUN_STRATEGIES)[number];

export function isRunStrategy(s: string): s is RunStrategy {
  return (RUN_STRATEGIES as readonly string[]).includes(s);
}

/** Least data to learn from and to judge by. */
export const MIN_LOGGED_TO_LEARN = 100;
export const MIN_LOGGED_HOLDOUT = 50;
export const MIN_CORRECTIONS = 10;
/** Anchor examples added to an online update's held-out set (so that forgetting shows). */
const ANCHOR_CHECKS = 500;

export interface AdaptSettings {
  epochs?: number;
  learning_rate?: number;
  clip?: number;
  negative?: number;
  distill?: number;
}

/** Defaults chosen on BANKING77's held-out logs and validation inputs (bench/adapt.ts), not its test set. */
export const ADAPT_DEFAULTS = { offPolicy: { epochs: 20, clip: 10, negative: 0.3 }, online: { epochs: 10, learning_rate: 0.002, distill: 0.5 } } as const;

export interface StartRequest {
  appId: string;
  agentId: string;
  strategy: RunStrategy;
  rewardFunction: RewardFunction;
  reportedMetrics: Record<string, number> | null;
  autoPromote: boolean;
  settings: AdaptSettings;
  trigger: "api" | "cron";
}

export interface Started {
  adaptation_id: string;
  /** Rows learned from, and held out for the gate. */
  data: { learn: number; holdout: number };
  /** The run's plan (null: performance_tuning, which trains nothing). */
  plan: { n_train: number; n_valid: number; epochs: number; total_steps: number; memory_mb: number } | null;
}

export interface StartDeps {
  db: Db;
  env: Pick<Env, "DATASETS" | "CHECKPOINTS" | "STEPS">;
  now: () => number;
  newId: (prefix: string) => string;
  seed: () => number;
}

/** An adaptation run of the agent is queued or running. */
export async function adaptationInProgress(db: Db, appId: string, agentId: string): Promise<string | null> {
  const [row] = await db
    .select({ id: trainingRuns.id })
    .from(trainingRuns)
    .where(and(eq(trainingRuns.appId, appId), eq(trainingRuns.agentId, agentId), inArray(trainingRuns.status, ["queued", "running"]), inArray(trainingRuns.trainingType, [...RUN_STRATEGIES])))
    .limit(1);
  return row?.id ?? null;
}

export async function startAdaptation(deps: StartDeps, req: StartRequest): Promise<Started> {
  const { db, env } = deps;
  const agent = await findAgent(db, req.appId, req.agentId);
  const live = await resolveVersion(db, agent);
  const running = await adaptationInProgress(db, req.appId, agent.id);
  if (running) throw conflict("adaptation_in_progress", `agent '${agent.id}' is already being adapted by run ${running}; wait for that adaptation to end (getAdaptation) or cancel its run`);
  const baseRun = await findRun(db, live.runId, req.appId);
  if (!baseRun) throw conflict("no_version", `the training run of version ${live.version} is gone; train the agent again`);
  const anchorAll = await loadExamples(env.DATASETS, req.appId, baseRun.datasetId);
  const { rows, measured } = await loggedRows(db, req.appId, agent.id, live.id, req.rewardFunction);
  const seed = deps.seed();
  const base = {
    version_id: live.id,
    checkpoint_key: live.checkpointKey,
    weights_sha256: live.weightsSha256,
    classes: live.classes,
    context_features: live.params.context_features === true,
    settings: executionSettings(live.params),
  };
  let data: AdaptationData;
  let hyper: Hyper;
  if (req.strategy === "online") {
    const labeled = await labeledRows(db, req.appId, agent.id);
    const corrections = splitRows(labeled.corrections);
    // Judged on held-out corrections and confirmed answers (inputs never learned from), and on anchor examples (forgetting).
    const judged = [...corrections.holdout, ...splitRows(labeled.confirmed).holdout];
    if (corrections.learn.length < MIN_CORRECTIONS) {
      throw conflict(
        "not_enough_feedback",
        `online adaptation learns from corrections (feedback with correct_output): it needs at least ${MIN_CORRECTIONS} to learn from, and agent '${agent.id}' has ${corrections.learn.length} ` +
          `(${corrections.holdout.length} more are held out to judge by): send about ${Math.ceil((MIN_CORRECTIONS - corrections.learn.length) * 1.25)} more corrections`,
        { needed: MIN_CORRECTIONS, have: corrections.learn.length },
      );
    }
    const checks = new Rng(seed, 0xa4c).shuffle(Int32Array.from(anchorAll.keys())).subarray(0, ANCHOR_CHECKS);
    const s = { ...ADAPT_DEFAULTS.online, ...req.settings };
    data = {
      strategy: "online",
      base,
      settings: { distill: s.distill },
      learn: corrections.learn,
      holdout: [...judged, ...Array.from(checks, (i) => ({ input: anchorAll[i].input, expected_output: anchorAll[i].expected_output }))],
    };
    hyper = { ...baseRun.config, distributed: undefined, seed, epochs: s.epochs, learning_rate: s.learning_rate, refit: false, early_stopping: null, selection_tolerance: 0, ensemble: baseRun.plan.members };
  } else {
    const learn = splitRows(rows).learn;
    const traced = splitRows(await tracedRows(db, req.appId, agent.id, live.id, req.rewardFunction, MAX_TRACED_ROWS));
    if (learn.length < MIN_LOGGED_TO_LEARN || traced.holdout.length < MIN_LOGGED_HOLDOUT) {
      const short = Math.max(MIN_LOGGED_TO_LEARN - learn.length, (MIN_LOGGED_HOLDOUT - traced.holdout.length) * 4, 0);
      throw conflict(
        "not_enough_feedback",
        `${req.strategy} adaptation learns off-policy from logged executions with feedback (a class shown, its propensity, a reward under ${JSON.stringify(req.rewardFunction)}), ` +
          `and is judged on held-out executions with feedback: it needs at least ${MIN_LOGGED_TO_LEARN} to learn from and ${MIN_LOGGED_HOLDOUT} held out; version ${live.version} of agent '${agent.id}' ` +
          `has ${learn.length} and ${traced.holdout.length}: give feedback on about ${Math.ceil(short * 1.25)} more executions (turn exploration on with configureAgent so that it learns about other answers too)`,
        { needed: { learn: MIN_LOGGED_TO_LEARN, holdout: MIN_LOGGED_HOLDOUT }, have: { learn: learn.length, holdout: traced.holdout.length } },
      );
    }
    const s = { ...ADAPT_DEFAULTS.offPolicy, ...req.settings };
    data = {
      strategy: req.strategy,
      base,
      exploration: agent.exploration ?? NO_EXPLORATION,
      use_context: req.strategy === "context_aware",
      settings: { clip: s.clip, negative: s.negative },
      learn,
      kinds: kindStats(answerKinds(traced.learn, live.classes, base.settings)),
      judge: traced.holdout,
    };
    hyper = {
      ...baseRun.config,
      // An adaptation's data are small and prepared whole: a single chain.
      distributed: undefined,
      seed,
      epochs: s.epochs,
      ...(req.settings.learning_rate !== undefined && { learning_rate: req.settings.learning_rate }),
      refit: false,
      early_stopping: null,
      selection_tolerance: 0,
      ensemble: "auto",
    };
  }
  const anchor = data.strategy === "online" ? anchorAll : anchorFor(anchorAll, live.classes);
  const sizes = adaptationSizes(data, anchor, hyper);
  const plan = planRun(sizes.n_train, sizes.n_valid, hyper);
  const texts =
    data.strategy === "online"
      ? [...anchor, ...data.learn]
      : [...anchor, ...data.learn.map((l) => ({ input: modelText(l.input, l.context, data.use_context), expected_output: live.classes[l.action] ?? "" }))];
  const footprint = stepFootprint(hyper, dataShape(texts, hyper), learnedMemoryCount(anchor.length, live.classes.length));
  if (footprint.peak_bytes > STEP_BUDGET_BYTES) {
    throw conflict("too_large", `this adaptation needs about ${Math.ceil(footprint.peak_bytes / MIB)} MB at a step's peak; a step may use ${STEP_BUDGET_BYTES / MIB} MB: it reads too much feedback at once`);
  }
  plan.memory = { peak_mb: Math.ceil(footprint.peak_bytes / MIB), budget_mb: STEP_BUDGET_BYTES / MIB };
  const adaptationId = deps.newId("adp");
  const runId = deps.newId("run");
  const dataKey = keys.adaptationData(req.appId, adaptationId);
  const now = deps.now();
  await putBytes(env.CHECKPOINTS, dataKey, new TextEncoder().encode(JSON.stringify(data)), "application/json");
  const inProgress = () => conflict("adaptation_in_progress", `agent '${agent.id}' is already being adapted; wait for that adaptation to end (getAdaptation) or cancel its run`);
  const insert = db.batch([
    db.insert(trainingRuns).values({
      id: runId,
      appId: req.appId,
      agentId: agent.id,
      status: "queued",
      trainingType: req.strategy,
      datasetId: baseRun.datasetId,
      config: hyper,
      plan,
      createdAt: now,
      updatedAt: now,
    }),
    db.insert(adaptations).values({
      id: adaptationId,
      appId: req.appId,
      agentId: agent.id,
      strategy: req.strategy,
      rewardFunction: req.rewardFunction,
      reportedMetrics: req.reportedMetrics,
      measuredMetrics: { ...measured },
      baseVersionId: live.id,
      runId,
      dataKey,
      autoPromote: req.autoPromote,
      status: "queued",
      trigger: req.trigger,
      createdAt: now,
    }),
    db.update(agents).set({ updatedAt: now }).where(and(eq(agents.appId, req.appId), eq(agents.id, agent.id))),
  ]);
  try {
    await insert;
  } catch (e) {
    // Another adaptation of the agent was started meanwhile (the index runs_one_adaptation): nothing was written.
    await env.CHECKPOINTS.delete(dataKey);
    if (violatesUnique(e, "training_runs.app_id, training_runs.agent_id")) throw inProgress();
    throw e;
  }
  try {
    await env.STEPS.send({ run_id: runId, seq: 1 });
  } catch (e) {
    // The run stays queued; the watchdog enqueues it again.
    await noteStepError(db, runId, `enqueue failed: ${e instanceof Error ? e.message : String(e)}`, now);
  }
  return {
    adaptation_id: adaptationId,
    data: { learn: data.learn.length, holdout: data.strategy === "online" ? data.holdout.length : data.judge.length },
    plan: { n_train: plan.n_train, n_valid: plan.n_valid, epochs: plan.epochs, total_steps: plan.total_steps, memory_mb: plan.memory.peak_mb },
  };
}
