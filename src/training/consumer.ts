/**
 * The steps queue's consumers: training steps, the shards of distributed rounds, queued evaluation steps, optimization
 * trials and erasure steps (one queue, told apart by their message's shape), and the dead-letter queue that fails the
 * run, evaluation, optimization or erasure whose step (or shard) kept crashing.
 */
import { database } from "../db/client.ts";
import { randomId } from "../functions/common.ts";
import { memoryServices } from "../memory/store.ts";
import type { Env } from "../env.ts";
import { ErasureMessageSchema, EvaluationMessageSchema, ShardMessageSchema, StepMessageSchema, TrialMessageSchema, type TrainingMessage } from "./messages.ts";
import { failErasure, processErasureStep, type ErasureDeps } from "../erasure/job.ts";
import { failOptimization, processTrial, type OptimizeDeps } from "../optimize/run.ts";
import { failEvaluation, processEvaluationStep, type EvaluationDeps } from "../evaluation/job.ts";
import { failRun, findRun, noteStepError, type Run } from "./runs.ts";
import { processShard, processStep, type StepDeps } from "./step.ts";
import { Slicer } from "../isolate/slices.ts";

export function stepDeps(env: Env): StepDeps {
  return {
    db: database(env.DB),
    datasets: env.DATASETS,
    checkpoints: env.CHECKPOINTS,
    enqueue: async (msg: TrainingMessage) => {
      await env.STEPS.send(msg);
    },
    memory: memoryServices(env, () => randomId("mem")),
    now: () => Date.now(),
    slicer: new Slicer(),
    llm: env,
  };
}

/** Runs one message's work: acked when it ends, retried (and logged with its attempt) when it throws. */
async function handle(message: Message<unknown>, label: string, work: () => Promise<unknown>, onError?: (reason: string) => Promise<void>): Promise<void> {
  try {
    await work();
    message.ack();
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    console.error(`${label} failed (attempt ${message.attempts}): ${reason}`);
    await onError?.(reason).catch(() => {});
    message.retry();
  }
}

export async function consumeSteps(batch: MessageBatch<unknown>, deps: StepDeps, evaluations: EvaluationDeps, optimize: OptimizeDeps, erasure: ErasureDeps): Promise<void> {
  for (const message of batch.messages) {
    const erase = ErasureMessageSchema.safeParse(message.body);
    if (erase.success) {
      await handle(message, `erasure ${erase.data.erasure_id}#${erase.data.seq}`, () => processErasureStep(erasure, erase.data));
      continue;
    }
    const trial = TrialMessageSchema.safeParse(message.body);
    if (trial.success) {
      await handle(message, `optimization ${trial.data.optimization_id} trial ${trial.data.rung}/${trial.data.idx}`, () => processTrial(optimize, trial.data));
      continue;
    }
    const evaluation = EvaluationMessageSchema.safeParse(message.body);
    if (evaluation.success) {
      await handle(message, `evaluation ${evaluation.data.evaluation_id}#${evaluation.data.seq}`, () => processEvaluationStep(evaluations, evaluation.data));
      continue;
    }
    const shard = ShardMessageSchema.safeParse(message.body);
    if (shard.success) {
      const m = shard.data;
      await handle(
        message,
        `shard ${m.run_id}#${m.seq}/${m.shard}`,
        () => processShard(deps, m, message.attempts),
        (reason) => noteStepError(deps.db, m.run_id, `step ${m.seq}, shard ${m.shard}, attempt ${message.attempts}: ${reason}`, deps.now()),
      );
      continue;
    }
    const parsed = StepMessageSchema.safeParse(message.body);
    if (!parsed.success) {
      console.error("dropping malformed step message", message.body);
      message.ack();
      continue;
    }
    const step = parsed.data;
    await handle(
      message,
      `step ${step.run_id}#${step.seq}`,
      () => processStep(deps, step, message.attempts),
      (reason) => noteStepError(deps.db, step.run_id, `step ${step.seq}, attempt ${message.attempts}: ${reason}`, deps.now()),
    );
  }
}

/**
 * Why step `seq` of `run` never finished: the error its last attempt reported,
 * or — when the last attempt started after any error was reported — that its
 * invocation was stopped without a word, which is what exceeding the Worker's
 * memory or CPU limit looks like.
 */
export function deadStepReason(run: Run, seq: number): string {
  const lastErrorAt = run.lastErrorAt ?? -Infinity;
  if (run.lastError && (run.stepStartedAt === null || lastErrorAt >= run.stepStartedAt)) return run.lastError;
  const attempt = run.stepAttempt === null ? "" : `attempt ${run.stepAttempt} `;
  const started = run.stepStartedAt === null ? "" : `started at ${new Date(run.stepStartedAt).toISOString()} and `;
  const estimate = run.plan.memory ? ` (this run's estimated step peak is ${run.plan.memory.peak_mb} MB of the ${run.plan.memory.budget_mb} MB a step may use)` : "";
  return (
    `step ${seq}, ${attempt}${started}ended without finishing or reporting an error: the Worker most likely stopped it for exceeding its memory (128 MB)${estimate} ` +
    `or its CPU time (limits.cpu_ms); lower config.hidden, config.ensemble, config.dim or config.examples_per_step and train again`
  );
}

/** A step that exhausted its retries: the run fails with the reason its last attempt left. */
export async function consumeDeadSteps(batch: MessageBatch<unknown>, deps: StepDeps): Promise<void> {
  for (const message of batch.messages) {
    const erase = ErasureMessageSchema.safeParse(message.body);
    if (erase.success) {
      // Its deletions so far stand; getErasure reports the failure, and deleteAgent/deleteApp may be called again.
      await failErasure(deps.db, erase.data.erasure_id, `step ${erase.data.seq} failed after all retries`, deps.now());
      message.ack();
      continue;
    }
    const trial = TrialMessageSchema.safeParse(message.body);
    if (trial.success) {
      await failOptimization(deps.db, trial.data.optimization_id, `trial ${trial.data.rung}/${trial.data.idx} failed after all retries`, deps.now());
      message.ack();
      continue;
    }
    const evaluation = EvaluationMessageSchema.safeParse(message.body);
    if (evaluation.success) {
      await failEvaluation(deps.db, evaluation.data.evaluation_id, `step ${evaluation.data.seq} failed after all retries`, deps.now());
      message.ack();
      continue;
    }
    // A shard message is strict: tried first, since the step schema would read it as a step.
    const shard = ShardMessageSchema.safeParse(message.body);
    const parsed = shard.success ? shard : StepMessageSchema.safeParse(message.body);
    if (parsed.success) {
      const run = await findRun(deps.db, parsed.data.run_id);
      if (run && run.seq < parsed.data.seq) {
        const what = shard.success ? `shard ${shard.data.shard} of step ${parsed.data.seq}` : `step ${parsed.data.seq}`;
        await failRun(deps.db, run.id, `${what} failed after all retries: ${deadStepReason(run, parsed.data.seq)}`, deps.now());
      }
    }
    message.ack();
  }
}
