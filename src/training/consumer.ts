/** Queue consumers: training steps, and the dead-letter queue that fails runs whose step kept crashing. */
import { database } from "../db/client.ts";
import { randomId } from "../functions/common.ts";
import { memoryServices } from "../memory/store.ts";
import type { Env } from "../env.ts";
import { StepMessageSchema, type StepMessage } from "./messages.ts";
import { failRun, findRun, noteStepError } from "./runs.ts";
import { processStep, type StepDeps } from "./step.ts";

export function stepDeps(env: Env): StepDeps {
  return {
    db: database(env.DB),
    datasets: env.DATASETS,
    checkpoints: env.CHECKPOINTS,
    enqueue: async (msg: StepMessage) => {
      await env.STEPS.send(msg);
    },
    memory: memoryServices(env, () => randomId("mem")),
    now: () => Date.now(),
  };
}

export async function consumeSteps(batch: MessageBatch<unknown>, deps: StepDeps): Promise<void> {
  for (const message of batch.messages) {
    const parsed = StepMessageSchema.safeParse(message.body);
    if (!parsed.success) {
      console.error("dropping malformed step message", message.body);
      message.ack();
      continue;
    }
    try {
      await processStep(deps, parsed.data, message.attempts);
      message.ack();
    } catch (e) {
      const reason = (e as Error).message ?? String(e);
      console.error(`step ${parsed.data.run_id}#${parsed.data.seq} failed (attempt ${message.attempts}): ${reason}`);
      await noteStepError(deps.db, parsed.data.run_id, `step ${parsed.data.seq}, attempt ${message.attempts}: ${reason}`).catch(() => {});
      message.retry();
    }
  }
}

/** A step that exhausted its retries: the run fails with the last error it recorded. */
export async function consumeDeadSteps(batch: MessageBatch<unknown>, deps: StepDeps): Promise<void> {
  for (const message of batch.messages) {
    const parsed = StepMessageSchema.safeParse(message.body);
    if (parsed.success) {
      const run = await findRun(deps.db, parsed.data.run_id);
      if (run && run.seq < parsed.data.seq) {
        await failRun(deps.db, run.id, `step ${parsed.data.seq} failed after all retries: ${run.lastError ?? "unknown error"}`, deps.now());
      }
    }
    message.ack();
  }
}
