/**
 * Distributed training (config.distributed): rounds of shard messages and an
 * aggregator, driven by hand through the real step code with D1 and R2. The
 * same seeded run must end in byte-identical weights and metrics whatever
 * order its shards finish in, with duplicated messages, and with crashes of
 * any shard or of the aggregator; each round's aggregation is enqueued once;
 * and the in-process driver (the benchmark's) gives the same model.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { CrashPoint, StepOutcome } from "../../src/training/step.ts";
import { findRun } from "../../src/training/runs.ts";
import { sha256Hex } from "../../src/storage/hash.ts";
import { getBytes } from "../../src/storage/objects.ts";
import { fitSharded } from "../../src/model/fit.ts";
import { encodeModel } from "../../src/model/model.ts";
import type { Hyper } from "../../src/model/hyper.ts";
import type { TrainingMessage } from "../../src/training/messages.ts";
import { call, FAQ_TRAIN, SMALL, waitForRun } from "../helpers.ts";
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import worker from "../../src/index.ts";
import { crashOnce, db, drain, startRun, stepDepsFor, type Delivery } from "./harness.ts";
import { resumeTrainingRun } from "../../src/functions/runControls.ts";
import { UNLIMITED } from "../../src/security/quotas.ts";

// Three shards of 216 training rows: 72 each, 5 batches of 16 an epoch; rounds of 2 batches a shard: 3 rounds an
// epoch (the last one short). No refit (a distributed run's shards hold training rows only).
const CONFIG = { ...SMALL, epochs: 3, batch_size: 16, ensemble: 2, validation_split: 0.2, seed: 77, early_stopping: false, distributed: { workers: 3, sync_every: 2 } };

interface Faults {
  crashes?: { point: CrashPoint; seq: number; shard?: number }[];
  /** Deliver every enqueued message twice. */
  duplicate?: boolean;
  /** Deliver the queue's messages last-in first-out (shards finish in reverse order). */
  reverse?: boolean;
}

async function runWith(agentId: string, faults: Faults): Promise<{ runId: string; weights: string; epochs: unknown[]; steps: unknown[]; outcomes: StepOutcome[]; sent: TrainingMessage[] }> {
  const queue: Delivery[] = [];
  const runId = await startRun(agentId, queue, FAQ_TRAIN, CONFIG);
  const crashes = crashOnce(faults.crashes ?? []);
  const sent: TrainingMessage[] = [];
  const deps = stepDepsFor(queue, {
    enqueue: async (msg) => {
      sent.push(msg);
      queue.push({ msg, attempt: 1 });
      if (faults.duplicate) queue.push({ msg, attempt: 1 });
    },
    crash: crashes.crash,
  });
  const outcomes: StepOutcome[] = [];
  for (let guard = 0; queue.length > 0; guard++) {
    if (guard > 2000) throw new Error("the queue does not drain");
    const d = faults.reverse ? queue.pop()! : queue.shift()!;
    outcomes.push(...(await drain([d], deps)));
  }
  expect(crashes.unreached(), "crash points never reached").toEqual([]);
  const run = (await findRun(db, runId))!;
  expect(run.status, run.error ?? "").toBe("succeeded");
  const version = await env.DB.prepare("SELECT checkpoint_key FROM agent_versions WHERE run_id = ?").bind(runId).first<{ checkpoint_key: string }>();
  const weights = await sha256Hex((await getBytes(env.CHECKPOINTS, version!.checkpoint_key))!);
  const epochs = (await env.DB.prepare("SELECT epoch, train_loss, valid_loss, valid_accuracy FROM run_epochs WHERE run_id = ? ORDER BY epoch").bind(runId).all()).results;
  const steps = (await env.DB.prepare("SELECT seq, epoch, examples, train_loss FROM run_steps WHERE run_id = ? ORDER BY seq").bind(runId).all()).results;
  return { runId, weights, epochs, steps, outcomes, sent };
}

describe("distributed training", () => {
  it("trains in rounds of shards whose result does not depend on their order, duplicates or crashes, and matches the in-process driver", async () => {
    const reference = await runWith("dist-reference", {});
    const run = (await findRun(db, reference.runId))!;
    expect(run.plan).toMatchObject({ shards: 3, partitions: [72, 72, 72], n_valid: 48, steps_per_epoch: 3, epochs_per_step: 1, batches_per_epoch: 5, batches_per_step: 2, refit: null });
    const rounds = reference.steps.length;
    expect(rounds).toBe(3 * 3);
    expect(reference.epochs).toHaveLength(4); // epoch 0 + 3
    // Every round: its shards ran once each, and its aggregation was enqueued exactly once (by the shard that completed it).
    const shardRows = (await env.DB.prepare("SELECT seq, count(*) AS n, sum(examples) AS examples FROM run_shards WHERE run_id = ? GROUP BY seq").bind(reference.runId).all<{ seq: number; n: number; examples: number }>()).results;
    expect(shardRows).toHaveLength(rounds);
    expect(shardRows.every((r) => r.n === 3)).toBe(true);
    expect(reference.outcomes.filter((o) => o === "shard-trained")).toHaveLength(3 * rounds);
    expect(reference.outcomes.filter((o) => o === "fanned-out")).toHaveLength(rounds);
    const aggregations = reference.sent.filter((m) => !("shard" in m) && m.seq <= rounds);
    // Per round: the fan-out message (from the previous round's commit, or trainAgent for round 1) and one aggregation.
    for (let seq = 2; seq <= rounds; seq++) expect(aggregations.filter((m) => m.seq === seq), `round ${seq}`).toHaveLength(2);
    // The round's examples add up to the step's (each shard trained its share once).
    expect(shardRows.map((r) => r.examples)).toEqual((reference.steps as { examples: number }[]).map((s) => s.examples));
    // Each round's shards trained every batch of their partitions' epoch once: 72 rows each, three epochs.
    expect(shardRows.reduce((sum, r) => sum + r.examples, 0)).toBe(3 * 216);
    // Shard results are deleted once their round is committed, and everything once the run ends.
    expect((await env.CHECKPOINTS.list({ prefix: `apps/default/runs/${reference.runId}/` })).objects).toHaveLength(0);

    const scenarios: [string, Faults][] = [
      ["shards finishing in reverse order", { reverse: true }],
      ["duplicated messages", { duplicate: true }],
      [
        "crashes of shards and of the aggregator",
        {
          crashes: [
            { point: "shard-after-write", seq: 1, shard: 0 },
            { point: "shard-after-claim", seq: 2, shard: 2 },
            { point: "shard-after-write", seq: 4, shard: 1 },
            { point: "before-checkpoint", seq: 3 },
            { point: "after-checkpoint", seq: 5 },
            { point: "after-commit", seq: 6 },
            { point: "shard-after-claim", seq: 8, shard: 2 },
          ],
        },
      ],
      ["everything at once", { reverse: true, duplicate: true, crashes: [{ point: "shard-after-claim", seq: 3, shard: 0 }, { point: "after-commit", seq: 9 }] }],
    ];
    for (const [i, [name, faults]] of scenarios.entries()) {
      const r = await runWith(`dist-${i}`, faults);
      expect(r.weights, name).toEqual(reference.weights);
      expect(r.epochs, name).toEqual(reference.epochs);
      expect(r.steps, name).toEqual(reference.steps);
    }

    // The benchmark's in-process driver: the same model, byte for byte.
    const resolved = (await env.DB.prepare("SELECT config FROM training_runs WHERE id = ?").bind(reference.runId).first<{ config: string }>())!;
    const inProcess = fitSharded([FAQ_TRAIN], JSON.parse(resolved.config) as Hyper);
    expect(await sha256Hex(encodeModel(inProcess.model))).toEqual(reference.weights);
  });

  it("a cancelled round's shards do nothing, and a resumed run ends as an uninterrupted one", async () => {
    const reference = await runWith("dist-cancel-ref", {});
    const queue: Delivery[] = [];
    const runId = await startRun("dist-cancel", queue, FAQ_TRAIN, CONFIG);
    const deps = stepDepsFor(queue);
    // Round 1 and the fan-out of round 2; one shard of round 2 runs.
    for (let i = 0; i < 1 + 3 + 1 + 1 + 1; i++) await drain([queue.shift()!], deps);
    expect((await findRun(db, runId))!.seq).toBe(1);
    const cancel = await call("cancelTrainingRun", { run_id: runId });
    expect(cancel.status).toBe(200);
    // The round's other shards and anything else still queued: acknowledged without work.
    const outcomes = await drain(queue, deps);
    expect(outcomes.every((o) => o === "terminal")).toBe(true);
    const resumed = await resumeTrainingRun.handler(
      { env: { ...env, STEPS: { send: async (msg: TrainingMessage) => void queue.push({ msg, attempt: 1 }) } as unknown as Queue<TrainingMessage> }, db, appId: "default", actor: "local", quotas: UNLIMITED, now: () => Date.now(), waitUntil: () => {} },
      resumeTrainingRun.input.parse({ run_id: runId }),
    );
    expect(resumed.status).toBe("running");
    await drain(queue, deps);
    const run = (await findRun(db, runId))!;
    expect(run.status, run.error ?? "").toBe("succeeded");
    const version = await env.DB.prepare("SELECT checkpoint_key FROM agent_versions WHERE run_id = ?").bind(runId).first<{ checkpoint_key: string }>();
    expect(await sha256Hex((await getBytes(env.CHECKPOINTS, version!.checkpoint_key))!)).toEqual(reference.weights);
  });

  it("trainAgent answers with the rounds' plan, and refuses a bad distributed config naming the field", async () => {
    const ok = await call<{ plan: { total_steps: number; queue_messages: number } }>("trainAgent", { agent_id: "dist-plan", training_data: FAQ_TRAIN, config: { ...CONFIG, epochs: 2 } });
    expect(ok.status).toBe(202);
    expect(ok.body.plan).toMatchObject({ shards: 3, steps_per_epoch: 3, epochs_per_step: 1 });
    expect(ok.body.plan.queue_messages).toBe((ok.body.plan.total_steps - 1) * 5 + 1);
    for (const [distributed, path] of [
      [{ workers: 0 }, "config.distributed.workers"],
      [{ workers: 17 }, "config.distributed.workers"],
      [{ workers: "many" }, "config.distributed.workers"],
      [{ workers: 2, sync_every: 0 }, "config.distributed.sync_every"],
      [{ workers: 2, extra: true }, "config.distributed"],
    ] as const) {
      const bad = await call("trainAgent", { agent_id: "dist-bad", training_data: FAQ_TRAIN, config: { ...SMALL, distributed } });
      expect(bad.status, JSON.stringify(distributed)).toBe(400);
      expect(JSON.stringify(bad.body), JSON.stringify(distributed)).toContain(path);
    }
  });

  it("runs through the real queue consumer: shard messages and aggregations delivered by the queue", async () => {
    const started = await call<{ run_id: string }>("trainAgent", { agent_id: "dist-queue", training_data: FAQ_TRAIN, config: { ...CONFIG, epochs: 2 } });
    expect(started.status).toBe(202);
    const run = await waitForRun(started.body.run_id, 120_000);
    expect(run.status, run.error ?? "").toBe("succeeded");
    const shards = await env.DB.prepare("SELECT count(DISTINCT seq) AS rounds, count(*) AS n FROM run_shards WHERE run_id = ?").bind(started.body.run_id).first<{ rounds: number; n: number }>();
    expect(shards!.rounds).toBeGreaterThanOrEqual(6);
    expect(shards!.n).toBe(3 * shards!.rounds);
    // The run's view: its rounds' cost and critical path.
    expect(run.timing.rounds).toMatchObject({ shards: 3 });
    expect(run.timing.rounds!.critical_path_ms).toBeGreaterThan(0);
    expect(run.timing.rounds!.shard_ms).toBeGreaterThan(0);
    expect(run.plan).toMatchObject({ shards: 3 });
  });

  it("a distributed run planned before partitioned shards fails at its next step, saying why", async () => {
    const queue: Delivery[] = [];
    const runId = await startRun("dist-old", queue, FAQ_TRAIN, CONFIG);
    await env.DB.prepare("UPDATE training_runs SET plan = json_remove(plan, '$.partitions') WHERE id = ?").bind(runId).run();
    const outcomes = await drain(queue, stepDepsFor(queue));
    expect(outcomes).toEqual(["failed"]);
    const run = (await findRun(db, runId))!;
    expect(run.status).toBe("failed");
    expect(run.error).toContain("planned by an earlier version");
  });

  it("a shard that exhausted its retries fails the run, naming the shard and the last error", async () => {
    const queue: Delivery[] = [];
    const runId = await startRun("dist-dead", queue, FAQ_TRAIN, CONFIG);
    await env.DB.prepare("UPDATE training_runs SET last_error = 'step 1, shard 2, attempt 6: R2 unavailable', last_error_at = ? WHERE id = ?").bind(Date.now(), runId).run();
    const batch = createMessageBatch("archon-training-steps-dlq", [{ id: "m1", timestamp: new Date(), attempts: 1, body: { run_id: runId, seq: 1, shard: 2 } }]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env, ctx);
    expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual(["m1"]);
    const run = (await findRun(db, runId))!;
    expect(run.status).toBe("failed");
    expect(run.error).toBe("shard 2 of step 1 failed after all retries: step 1, shard 2, attempt 6: R2 unavailable");
  });
});
