/**
 * Driving a run's steps by hand: trainAgent with an in-memory queue, and a
 * loop that delivers its messages to processStep the way the real queue does
 * (a message whose step threw is redelivered with its attempt counted).
 */
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { database } from "../../src/db/client.ts";
import { trainAgent } from "../../src/functions/trainAgent.ts";
import type { Env } from "../../src/env.ts";
import type { StepMessage, TrainingMessage } from "../../src/training/messages.ts";
import { processTrainingMessage, type CrashPoint, type StepDeps, type StepOutcome } from "../../src/training/step.ts";
import { memoryServices } from "../../src/memory/store.ts";
import { randomId } from "../../src/functions/common.ts";
import type { Example } from "../../src/data/examples.ts";
import { Slicer } from "../../src/isolate/slices.ts";
import { UNLIMITED } from "../../src/security/quotas.ts";

export class InjectedCrash extends Error {}

export interface Delivery {
  msg: TrainingMessage;
  attempt: number;
}

export const db = database(env.DB);

/** Calls trainAgent with a queue that collects the messages it sends. */
export async function startRun(agentId: string, queue: Delivery[], trainingData: readonly Example[], config: Record<string, unknown>): Promise<string> {
  const collecting: Env = { ...env, STEPS: { send: async (msg: StepMessage) => void queue.push({ msg, attempt: 1 }) } as unknown as Queue<StepMessage> };
  const out = await trainAgent.handler(
    { env: collecting, db, appId: "default", actor: "local", quotas: UNLIMITED, now: () => Date.now(), waitUntil: () => {} },
    trainAgent.input.parse({ agent_id: agentId, training_data: trainingData, config }),
  );
  return out.run_id;
}

export function stepDepsFor(queue: Delivery[], overrides: Partial<StepDeps> = {}): StepDeps {
  return {
    db,
    datasets: env.DATASETS,
    checkpoints: env.CHECKPOINTS,
    enqueue: async (msg) => void queue.push({ msg, attempt: 1 }),
    memory: memoryServices(env, () => randomId("mem")),
    now: () => Date.now(),
    slicer: new Slicer(),
    ...overrides,
  };
}

/** Delivers messages until the queue is empty; a step that throws InjectedCrash is redelivered. */
export async function drain(queue: Delivery[], deps: StepDeps): Promise<StepOutcome[]> {
  const outcomes: StepOutcome[] = [];
  for (let guard = 0; queue.length > 0; guard++) {
    if (guard > 500) throw new Error("the queue does not drain");
    const d = queue.shift()!;
    try {
      outcomes.push(await processTrainingMessage(deps, d.msg, d.attempt));
    } catch (e) {
      if (!(e instanceof InjectedCrash)) throw e;
      queue.unshift({ msg: d.msg, attempt: d.attempt + 1 });
    }
  }
  return outcomes;
}

/** A crash hook that throws once at each (point, seq) given, and reports the ones never reached. */
export function crashOnce(points: { point: CrashPoint; seq: number; shard?: number }[]): { crash: StepDeps["crash"]; unreached: () => string[] } {
  const pending = new Set(points.map((c) => (c.shard === undefined ? `${c.point}@${c.seq}` : `${c.point}@${c.seq}/${c.shard}`)));
  return {
    crash: (point, msg) => {
      const k = "shard" in msg ? `${point}@${msg.seq}/${msg.shard}` : `${point}@${msg.seq}`;
      if (pending.delete(k)) throw new InjectedCrash(k);
    },
    unreached: () => [...pending],
  };
}

export async function runStatus(runId: string): Promise<{ status: string; seq: number; error: string | null }> {
  const r = await env.DB.prepare("SELECT status, seq, error FROM training_runs WHERE id = ?").bind(runId).first<{ status: string; seq: number; error: string | null }>();
  expect(r).not.toBeNull();
  return r!;
}
