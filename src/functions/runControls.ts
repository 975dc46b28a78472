/** getTrainingRun, listTrainingRuns, cancelTrainingRun, resumeTrainingRun: the runs and their controls (they act between steps). */
import { z } from "zod";
import { conflict, notFound, unavailable } from "../errors.ts";
import { ACTIVE, findRun, transition } from "../training/runs.ts";
import { RunSummarySchema, runSummaries, RunViewSchema, runView } from "../training/view.ts";
import { RUN_STATUSES } from "../db/schema.ts";
import { violatesUnique } from "../db/limits.ts";
import { defineFunction, type FunctionContext } from "./registry.ts";
import { AgentIdSchema, RunIdSchema } from "./common.ts";

const RunRef = z.object({ run_id: RunIdSchema }).strict();

async function ownRun(ctx: FunctionContext, runId: string) {
  const run = await findRun(ctx.db, runId, ctx.appId);
  if (!run) throw notFound("training run", runId);
  return run;
}

export const getTrainingRun = defineFunction({
  name: "getTrainingRun",
  summary: "Status, progress, per-epoch metrics and timing of a training run",
  description: "The same view as GET /runs/{id}. Epoch 0 holds the untrained network's held-out metrics.",
  input: RunRef,
  output: RunViewSchema,
  status: 200,
  async handler(ctx, input) {
    return runView(ctx.db, await ownRun(ctx, input.run_id), ctx.now());
  },
});

export const listTrainingRuns = defineFunction({
  name: "listTrainingRuns",
  summary: "An agent's training runs, newest first",
  description: "Each run's status, progress, best validation accuracy and the version it made; getTrainingRun has the whole view of one.",
  input: z
    .object({
      agent_id: AgentIdSchema,
      status: z.enum(RUN_STATUSES, { error: () => `status must be one of ${RUN_STATUSES.join(", ")}` }).optional(),
      limit: z.number().int().min(1).max(100).default(20),
    })
    .strict(),
  output: z.object({ agent_id: z.string(), runs: z.array(RunSummarySchema) }),
  status: 200,
  async handler(ctx, input) {
    return { agent_id: input.agent_id, runs: await runSummaries(ctx.db, ctx.appId, input.agent_id, input.limit, input.status) };
  },
});

export const cancelTrainingRun = defineFunction({
  name: "cancelTrainingRun",
  summary: "Cancel a queued or running training run",
  description: "Takes effect between steps: a step in flight finishes but is not committed. A cancelled run can be resumed.",
  input: RunRef,
  output: RunViewSchema,
  status: 200,
  async handler(ctx, input) {
    const run = await ownRun(ctx, input.run_id);
    const now = ctx.now();
    if (!(await transition(ctx.db, run.id, ACTIVE, "cancelled", now, { finishedAt: now }))) {
      throw conflict("run_not_active", `run ${run.id} is ${run.status}; only queued or running runs can be cancelled`);
    }
    return runView(ctx.db, (await findRun(ctx.db, run.id))!, now);
  },
});

export const resumeTrainingRun = defineFunction({
  name: "resumeTrainingRun",
  summary: "Resume a cancelled or failed run from its last committed step",
  description: "Re-enqueues the step after the last committed checkpoint; the result is identical to an uninterrupted run.",
  input: RunRef,
  output: RunViewSchema,
  status: 200,
  async handler(ctx, input) {
    const run = await ownRun(ctx, input.run_id);
    const now = ctx.now();
    if (run.sweptAt !== null && run.status !== "succeeded") {
      throw conflict("run_not_resumable", `run ${run.id} is ${run.status} and its checkpoints were removed on ${new Date(run.sweptAt).toISOString()} (RUN_RETENTION_DAYS after it ended): start a new run`);
    }
    const to = run.seq > 0 ? "running" : "queued";
    let resumed: boolean;
    try {
      resumed = await transition(ctx.db, run.id, ["cancelled", "failed"], to, now, { finishedAt: null, error: null, lastError: null });
    } catch (e) {
      if (!violatesUnique(e, "training_runs.app_id, training_runs.agent_id")) throw e;
      throw conflict("adaptation_in_progress", `run ${run.id} adapts agent '${run.agentId}', which another adaptation is adapting now; resume it after that one ends`);
    }
    if (!resumed) {
      throw conflict("run_not_resumable", `run ${run.id} is ${run.status}; only cancelled or failed runs can be resumed`);
    }
    try {
      await ctx.env.STEPS.send({ run_id: run.id, seq: run.seq + 1 });
    } catch (e) {
      // Nothing will run it: put the run back as it was, so that the call can simply be repeated.
      await transition(ctx.db, run.id, [to], run.status, ctx.now(), { finishedAt: run.finishedAt, error: run.error, lastError: run.lastError });
      throw unavailable("queue_unavailable", `the run could not be queued (${e instanceof Error ? e.message : String(e)}); it is still ${run.status}: try again`);
    }
    return runView(ctx.db, (await findRun(ctx.db, run.id))!, now);
  },
});
