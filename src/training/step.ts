/**
 * One resumable step of a training run (DESIGN.md section 6):
 *
 * 1. load the run; a message that is not the next expected step is acked and
 *    ignored (duplicates, stale redeliveries) — except that a retry of the
 *    step just committed re-enqueues its successor, in case the crash came
 *    between the commit and the enqueue;
 * 2. load checkpoint seq-1 from R2 (step 1 starts from seeded weights);
 * 3. train this step's slice of an epoch or whole epochs (trainer.ts: the
 *    validation phase evaluates at each epoch's end; the refit phase retrains
 *    on every row);
 * 4. write checkpoint seq, advance the run in D1 only if it is still at seq-1,
 *    then enqueue seq+1.
 *
 * The step after training ends finalizes: it calibrates the chosen epoch's
 * weights (or, after a refit, the refit's with the chosen epoch's
 * temperature), writes the version's weights and the learned patterns and
 * demos (which belong to that version and stay invisible until it exists),
 * then commits the version, the run's success and the agent's live version in
 * one atomic batch. A final step that loses its run (cancelled, failed) leaves
 * only invisible leftovers, which the sweeper removes (sweeper.ts).
 * Everything is deterministic in the run's seed, so a redone step writes the
 * same bytes.
 *
 * A distributed run (plan.shards = N > 1) makes each training step a round,
 * and no step holds its whole dataset: the first round's message lays the
 * data out (layout.ts: classes, each row's role, the shared vocabulary) and
 * every step reads only its part (prepared.ts). The step's message fans out
 * N shard messages (`processShard`: each trains batches of its own partition
 * from checkpoint seq-1 and writes its result to R2, then records it in D1);
 * the aggregator and the final step read the held-out rows (and the final
 * step a sample of training rows). The shard whose record completes the
 * round claims its aggregation (exactly once: a conditional update) and
 * enqueues the step's message again, which now finds every shard recorded and
 * aggregates (aggregate.ts, in shard order), then commits the round as the
 * single chain commits a step. A redelivered fan-out re-sends only the
 * shards not yet recorded; a recorded shard is never trained again; a shard
 * that crashed after claiming re-enqueues the aggregator on its redelivery.
 */
import type { Db } from "../db/client.ts";
import { CheckpointError } from "../model/checkpoint.ts";
import { decodeModel, encodeModel } from "../model/model.ts";
import type { Prepared } from "../model/prepare.ts";
import type { Example } from "../model/hyper.ts";
import { stepEndingEpoch } from "../model/plan.ts";
import { beginRoundWork, closeRoundWork, finalizeModelWork, initState, trainingFitWork, trainShardWork, trainStepWork, type StepReport, type TrainState } from "../model/trainer.ts";
import { compactShard, RoundMerger } from "../model/aggregate.ts";
import { archOf } from "../model/prepare.ts";
import type { Slicer } from "../isolate/slices.ts";
import type { Tensors } from "../model/network.ts";
import { keys } from "../storage/keys.ts";
import { deletePrefix, getBytes, putBytes } from "../storage/objects.ts";
import { sha256Hex } from "../storage/hash.ts";
import { MissingDatasetError } from "../data/datasets.ts";
import { createMemories, type MemoryServices } from "../memory/store.ts";
import { learnedMemoriesWork, MAX_DEMOS } from "../memory/learned.ts";
import { carriedDemos } from "../memory/carry.ts";
import type { NewMemory } from "../memory/store.ts";
import { bootstrapDemos } from "../llm/bootstrap.ts";
import { chatModel, providerFor, type LlmEnv } from "../llm/provider.ts";
import { priceOf } from "../llm/prices.ts";
import { patternOf } from "../llm/prompt.ts";
import type { AnswererSettings } from "../llm/answerer.ts";
import { runData } from "./prepared.ts";
import { runLayout } from "./layout.ts";
import type { ShardMessage, StepMessage, TrainingMessage } from "./messages.ts";
import { commitFinal, commitStep, failRun, findRun, markRunning, markSwept, noteStepStart, recordedShards, recordShard, runEpochMetrics, TERMINAL, versionIdOf, type Run } from "./runs.ts";
import { decodeShard, decodeState, encodeShard, encodeState } from "./state.ts";
import { DEFAULT_VERSION_PARAMS } from "../agent/versions.ts";
import { gateWork, judged } from "../adapt/finish.ts";

export type CrashPoint = "before-checkpoint" | "after-checkpoint" | "after-commit" | "final-before-commit" | "final-after-commit" | "shard-after-write" | "shard-after-claim";

export interface StepDeps {
  db: Db;
  datasets: R2Bucket;
  checkpoints: R2Bucket;
  enqueue: (msg: TrainingMessage) => Promise<void>;
  /** Where the final step writes learned patterns and demos. */
  memory: MemoryServices;
  now: () => number;
  /** Gives the event loop a turn every slice of training work, so requests are served meanwhile. */
  slicer: Slicer;
  /** Fault injection for tests: may throw at the named point, or act there (cancel the run) before going on. */
  crash?: (point: CrashPoint, msg: TrainingMessage) => void | Promise<void>;
  /** Where the final step finds a language model (prompt engineering); absent: none. */
  llm?: LlmEnv;
}

export type StepOutcome = "missing-run" | "terminal" | "stale" | "re-enqueued" | "trained" | "lost-race" | "finalized" | "failed" | "fanned-out" | "shard-trained";

/** A training message of either kind: a step (or a round's fan-out and aggregation), or one shard of a round. */
export async function processTrainingMessage(deps: StepDeps, msg: TrainingMessage, attempt = 1): Promise<StepOutcome> {
  return "shard" in msg ? processShard(deps, msg, attempt) : processStep(deps, msg, attempt);
}

/** A failure that retrying cannot fix: the run is marked failed with the reason. */
export class PermanentStepError extends Error {}

/**
 * `attempt` is the delivery attempt (1 = first): a retried delivery of the
 * step just committed means its consumer died before enqueueing the next one.
 */
export async function processStep(deps: StepDeps, msg: StepMessage, attempt = 1): Promise<StepOutcome> {
  const run = await findRun(deps.db, msg.run_id);
  if (!run) return "missing-run";
  if (TERMINAL.includes(run.status)) return "terminal";
  if (msg.seq <= run.seq) {
    // A plain duplicate (first attempt) is ignored, so duplicates cannot multiply.
    if (msg.seq === run.seq && attempt > 1) {
      await deps.enqueue({ run_id: run.id, seq: run.seq + 1 });
      return "re-enqueued";
    }
    return "stale";
  }
  if (msg.seq > run.seq + 1) return "stale";
  if (run.status === "queued") await markRunning(deps.db, run.id, deps.now());
  await noteStepStart(deps.db, run.id, attempt, deps.now());
  try {
    if (run.trainingDone || msg.seq > run.plan.train_steps) return await finalStep(deps, run, msg);
    return (run.plan.shards ?? 1) > 1 ? await roundStep(deps, run, msg) : await trainingStep(deps, run, msg);
  } catch (e) {
    return failedOrStale(deps, run, msg, `step ${msg.seq}`, e);
  }
}

/** A permanent failure fails the run, unless the step lost a race (its inputs gone because the run moved on): then it is stale. Others are rethrown (retried). */
async function failedOrStale(deps: StepDeps, run: Run, msg: TrainingMessage, what: string, e: unknown): Promise<StepOutcome> {
  if (e instanceof PermanentStepError || e instanceof MissingDatasetError || e instanceof CheckpointError) {
    const latest = await findRun(deps.db, run.id);
    if (latest && (latest.seq >= msg.seq || TERMINAL.includes(latest.status))) return "stale";
    await failRun(deps.db, run.id, `${what}: ${(e as Error).message}`, deps.now());
    return "failed";
  }
  throw e;
}

/**
 * A round's step message: fans out the shards not yet recorded, or, once
 * every shard is, aggregates them and commits the round.
 */
async function roundStep(deps: StepDeps, run: Run, msg: StepMessage): Promise<StepOutcome> {
  const shards = run.plan.shards!;
  checkPartitioned(run);
  const recorded = new Set(await recordedShards(deps.db, run.id, msg.seq));
  if (recorded.size < shards) {
    // The coordinator of the first round lays the data out for every later step (once: it is then read from R2).
    if (msg.seq === 1) await runLayout(deps, run, true);
    const missing = Array.from({ length: shards }, (_, k) => k).filter((k) => !recorded.has(k));
    await Promise.all(missing.map((shard) => deps.enqueue({ run_id: run.id, seq: msg.seq, shard })));
    return "fanned-out";
  }
  const started = deps.now();
  const { prepared } = await runData(deps, run, { kind: "valid" });
  const base = await stateBefore(deps, run, prepared, msg.seq);
  const previousBest = base.progress.best_epoch;
  const untrained = await deps.slicer.run(beginRoundWork(base, prepared, run.config, run.plan, msg.seq));
  const merger = new RoundMerger(base, archOf(run.config, prepared).rows, shards);
  const shardKeys: string[] = [];
  // In shard order, one at a time: the result does not depend on which shard finished first.
  for (let shard = 0; shard < shards; shard++) {
    const key = keys.shardState(run.appId, run.id, msg.seq, shard);
    const bytes = await getBytes(deps.checkpoints, key);
    if (!bytes) throw new PermanentStepError(`the result of shard ${shard} of round ${msg.seq} is missing`);
    const { state, report } = decodeShard(bytes, msg.seq, shard);
    merger.add(state, report);
    shardKeys.push(key);
  }
  const state = merger.result();
  const report = await deps.slicer.run(closeRoundWork(state, prepared, run.config, run.plan, msg.seq, merger.trained, untrained));
  return commitTraining(deps, run, msg, state, report, previousBest, started, shardKeys);
}

/** A distributed run planned before partitions (its shards took every N-th batch of the whole data) cannot go on: it says so. */
function checkPartitioned(run: Run): void {
  if (!run.plan.partitions) throw new PermanentStepError("this distributed run was planned by an earlier version of the service (before partitioned shards) and cannot continue: start it again with trainAgent");
}

/**
 * One shard of a round: trains its share from checkpoint seq-1, writes its
 * result, records it — and, when that completes the round, enqueues the
 * round's aggregation. A shard already recorded is not trained again.
 */
export async function processShard(deps: StepDeps, msg: ShardMessage, attempt = 1): Promise<StepOutcome> {
  const run = await findRun(deps.db, msg.run_id);
  if (!run) return "missing-run";
  if (TERMINAL.includes(run.status)) return "terminal";
  const shards = run.plan.shards ?? 1;
  if (msg.seq !== run.seq + 1 || msg.shard >= shards || run.trainingDone) return "stale";
  if ((await recordedShards(deps.db, run.id, msg.seq)).includes(msg.shard)) {
    // Its record is written (and, with it, its claim was tried). A redelivery may be of the shard that
    // claimed the round and died before enqueueing the aggregation: enqueue it (a duplicate is harmless).
    if (attempt > 1) {
      const latest = await findRun(deps.db, run.id);
      if (latest && latest.aggregating === msg.seq && latest.seq < msg.seq) await deps.enqueue({ run_id: run.id, seq: msg.seq });
    }
    return "stale";
  }
  await noteStepStart(deps.db, run.id, attempt, deps.now());
  try {
    const started = deps.now();
    checkPartitioned(run);
    const { prepared } = await runData(deps, run, { kind: "shard", shard: msg.shard });
    const state = await stateBefore(deps, run, prepared, msg.seq);
    const { touched, ...report } = await deps.slicer.run(trainShardWork(state, prepared, run.config, run.plan, msg.seq, msg.shard));
    const result = encodeShard(compactShard(state, touched, archOf(run.config, prepared).rows), report, msg.seq, msg.shard);
    await putBytes(deps.checkpoints, keys.shardState(run.appId, run.id, msg.seq, msg.shard), result);
    await deps.crash?.("shard-after-write", msg);
    const row = { appId: run.appId, runId: run.id, seq: msg.seq, shard: msg.shard, examples: report.examples, lossSum: report.loss_sum, ms: Math.round(deps.now() - started) };
    if (!(await recordShard(deps.db, row, shards))) return "shard-trained";
    await deps.crash?.("shard-after-claim", msg);
    await deps.enqueue({ run_id: run.id, seq: msg.seq });
    return "shard-trained";
  } catch (e) {
    return failedOrStale(deps, run, msg, `shard ${msg.shard} of step ${msg.seq}`, e);
  }
}

async function trainingStep(deps: StepDeps, run: Run, msg: StepMessage): Promise<StepOutcome> {
  const started = deps.now();
  const { prepared } = await runData(deps, run);
  const { state, report, previousBest } = await trainFromCheckpoint(deps, run, prepared, msg.seq);
  return commitTraining(deps, run, msg, state, report, previousBest, started, []);
}

/**
 * Writes checkpoint seq (and the best epoch's weights when they are not the
 * state's), advances the run to seq, deletes what is no longer needed (the
 * previous checkpoint, a superseded best model, the round's shard results:
 * `spent`) and enqueues seq+1.
 */
async function commitTraining(deps: StepDeps, run: Run, msg: StepMessage, state: TrainState, report: StepReport, previousBest: number, started: number, spent: string[]): Promise<StepOutcome> {
  await deps.crash?.("before-checkpoint", msg);
  // The chosen epoch's weights: the state checkpoint itself when the epoch ended this step, else a model of their own.
  if (report.best_model) {
    await putBytes(deps.checkpoints, keys.bestModel(run.appId, run.id, state.progress.best_epoch), report.best_model);
    report.best_model = null; // 15 MB less while the state is encoded
  }
  await putBytes(deps.checkpoints, keys.stepCheckpoint(run.appId, run.id, msg.seq), encodeState(state, msg.seq));
  await deps.crash?.("after-checkpoint", msg);
  const advanced = await commitStep(deps.db, {
    runId: run.id,
    seq: msg.seq,
    epoch: report.epoch,
    examples: report.examples,
    trainLoss: report.train_loss,
    ms: Math.round(deps.now() - started),
    bestEpoch: state.progress.best_epoch || null,
    trainingDone: report.stop,
    refitting: report.refit,
    epochs: report.epochs,
    now: deps.now(),
  });
  if (!advanced) return "lost-race";
  await deps.crash?.("after-commit", msg);
  // Only the last committed state and the best epoch's weights are still needed.
  const keep = bestWeightsKey(run, state.progress.best_epoch);
  const doomed = new Set<string>(spent);
  if (msg.seq > 1) doomed.add(keys.stepCheckpoint(run.appId, run.id, msg.seq - 1));
  if (previousBest > 0) doomed.add(bestWeightsKey(run, previousBest));
  doomed.delete(keep);
  doomed.delete(keys.stepCheckpoint(run.appId, run.id, msg.seq));
  if (doomed.size > 0) await deps.checkpoints.delete([...doomed]);
  await deps.enqueue({ run_id: run.id, seq: msg.seq + 1 });
  return "trained";
}

/**
 * Step 1 starts from seeded weights, later steps from checkpoint seq-1
 * (whose bytes only the state's views hold, until the network has copied them in).
 */
async function trainFromCheckpoint(deps: StepDeps, run: Run, prepared: Prepared, seq: number): Promise<{ state: TrainState; report: StepReport; previousBest: number }> {
  const state = await stateBefore(deps, run, prepared, seq);
  const previousBest = state.progress.best_epoch;
  return { state, report: await deps.slicer.run(trainStepWork(state, prepared, run.config, run.plan, seq)), previousBest };
}

/** The state step (or round) `seq` starts from: seeded weights for the first, else checkpoint seq-1. */
async function stateBefore(deps: StepDeps, run: Run, prepared: Prepared, seq: number): Promise<TrainState> {
  return seq === 1 ? initState(prepared, run.config) : readState(deps, run, seq - 1);
}

/** The training state checkpoint of step `seq`. */
async function readState(deps: StepDeps, run: Run, seq: number): Promise<TrainState> {
  const bytes = await getBytes(deps.checkpoints, keys.stepCheckpoint(run.appId, run.id, seq));
  if (!bytes) throw new PermanentStepError(`checkpoint of step ${seq} is missing`);
  return decodeState(bytes, seq);
}

/** Where the weights of `epoch` live: the checkpoint of the step that ended with it, or a model of their own. */
function bestWeightsKey(run: Run, epoch: number): string {
  const seq = stepEndingEpoch(run.plan, epoch);
  return seq === null ? keys.bestModel(run.appId, run.id, epoch) : keys.stepCheckpoint(run.appId, run.id, seq);
}

async function bestWeights(deps: StepDeps, run: Run, epoch: number): Promise<Tensors> {
  const seq = stepEndingEpoch(run.plan, epoch);
  if (seq !== null) return (await readState(deps, run, seq)).params;
  const bytes = await getBytes(deps.checkpoints, keys.bestModel(run.appId, run.id, epoch));
  if (!bytes) throw new PermanentStepError(`weights of best epoch ${epoch} are missing`);
  return decodeModel(bytes).params;
}

/** Bootstraps the demos of the new version's language-model answerer (src/llm/bootstrap.ts); null when the app has no model now. */
async function promptEngineering(deps: StepDeps, run: Run, answerer: AnswererSettings, examples: readonly Example[], prepared: Prepared, memories: readonly NewMemory[]) {
  const provider = deps.llm ? await providerFor(deps.db, deps.llm, run.appId) : null;
  if (!provider) return null;
  const rows = (split: Int32Array) => Array.from(split).filter((r) => r < examples.length).map((r) => examples[r]);
  const patterns = memories.flatMap((m) => patternOf(m.content) ?? []);
  return bootstrapDemos(chatModel(provider, answerer.model), answerer, priceOf(answerer.model, answerer.price, deps.llm?.LLM_PRICES), { train: rows(prepared.train), valid: rows(prepared.valid), patterns }, run.config.seed);
}

async function finalStep(deps: StepDeps, run: Run, msg: StepMessage): Promise<StepOutcome> {
  const hyper = run.config;
  if (!run.bestEpoch) throw new PermanentStepError("training ended without a best epoch");
  const bestParams = await bestWeights(deps, run, run.bestEpoch);
  const { examples, prepared, adaptation } = await runData(deps, run, { kind: "final" });
  // After a refit the last state holds the refit's weights.
  const refitted = run.plan.refit ? (await readState(deps, run, msg.seq - 1)).params : null;
  const { model, recall } = await deps.slicer.run(finalizeModelWork(bestParams, refitted, prepared, hyper));
  const fit = await deps.slicer.run(trainingFitWork(model, prepared, hyper, refitted !== null));
  const versionId = versionIdOf(run.id);
  const checkpointKey = keys.versionModel(run.appId, run.agentId, versionId);
  // The version's learned patterns and demos (deterministic ids: a redo writes nothing twice), beside its weights.
  const memories = await deps.slicer.run(learnedMemoriesWork(run.id, run.agentId, versionId, examples, model.classes, recall));
  // A transfer also carries its base version's demos of the classes it keeps.
  if (hyper.transfer) {
    const room = MAX_DEMOS + model.classes.length - memories.length;
    memories.push(...(await carriedDemos(deps.db, run.appId, hyper.transfer, model.classes, room, { runId: run.id, agentId: run.agentId, versionId })));
  }
  const weights = encodeModel(model, run.config.version_precision === "int8" ? "int8" : "version");
  const [epochs, weightsSha256] = await Promise.all([
    runEpochMetrics(deps.db, run.id),
    sha256Hex(weights),
    createMemories(deps.memory, run.appId, memories),
    putBytes(deps.checkpoints, checkpointKey, weights),
  ]);
  // few_shot with use_prompt_engineering on a language-model agent: its demos, bootstrapped.
  const prompt = hyper.prompt_engineering ? await promptEngineering(deps, run, hyper.prompt_engineering.answerer, examples, prepared, memories) : null;
  // An adaptation's candidate is judged by its safety gate before anything is committed.
  const gate = adaptation ? await deps.slicer.run(gateWork(adaptation.data, adaptation.record, model, adaptation.base, hyper.seed)) : null;
  const judgment = adaptation && gate ? await judged(deps.db, adaptation.data, adaptation.record, versionId, gate, model.temperature, deps.now()) : null;
  await deps.crash?.("final-before-commit", msg);
  const best = epochs.find((e) => e.epoch === run.bestEpoch);
  const created = await commitFinal(
    deps.db,
    run.id,
    msg.seq,
    {
      id: versionId,
      appId: run.appId,
      agentId: run.agentId,
      version: 0, // assigned in SQL
      runId: run.id,
      checkpointKey,
      weightsSha256,
      classes: model.classes,
      params: judgment?.params ?? { ...DEFAULT_VERSION_PARAMS, temperature: model.temperature, ...(prompt ? { answerer: prompt.settings } : hyper.answerer && { answerer: hyper.answerer }) },
      kind: adaptation?.record.strategy ?? "training",
      baseVersionId: adaptation?.record.baseVersionId ?? null,
      metrics: {
        weights: refitted ? "refit" : "chosen_epoch",
        best_epoch: run.bestEpoch,
        train_examples: run.plan.n_train,
        valid_examples: run.plan.n_valid,
        training_fit: fit,
        validation:
          best && best.valid_accuracy !== null && best.valid_loss !== null
            ? { split: "validation", weights: "chosen_epoch", epoch: run.bestEpoch, accuracy: best.valid_accuracy, loss: best.valid_loss, examples: run.plan.n_valid, selection_biased: true }
            : null,
        baseline_valid_accuracy: epochs.find((e) => e.epoch === 0)?.valid_accuracy ?? null,
        temperature: { value: model.temperature, fitted_on: run.plan.n_valid > 0 ? "validation split, with the chosen epoch's weights" : null },
        ...(adaptation && judgment && { adaptation: { id: adaptation.record.id, strategy: adaptation.record.strategy, base_version: judgment.baseVersion, gate: judgment.gate } }),
        ...(prompt && { prompt_engineering: prompt.report }),
      },
    },
    deps.now(),
    judgment
      ? { promote: judgment.gate.promoted, alongside: judgment.alongside, reason: `adaptation ${adaptation!.record.id}: ${judgment.gate.reason}` }
      : {
          promote: true,
          onlyIfNone: run.deploy === "candidate",
          reason: run.deploy === "candidate" ? `run ${run.id}: the agent's first version` : `run ${run.id}: deploy "immediate"`,
        },
  );
  if (!created) return "lost-race";
  await deps.crash?.("final-after-commit", msg);
  await deletePrefix(deps.checkpoints, keys.runPrefix(run.appId, run.id));
  await markSwept(deps.db, run.id, deps.now());
  return "finalized";
}
