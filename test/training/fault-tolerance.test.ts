/**
 * The same seeded run, (a) uninterrupted, (b) with crashes injected at every
 * point of a step, (c) with duplicated and stale messages, must end with
 * byte-identical weights and identical metrics (DESIGN.md section 6).
 * Steps are driven by hand through processStep, with an in-memory queue that
 * redelivers a crashed message as the real queue would.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { StepMessage } from "../../src/training/messages.ts";
import { processStep, type CrashPoint, type StepOutcome } from "../../src/training/step.ts";
import { findRun } from "../../src/training/runs.ts";
import { rescueStaleRuns } from "../../src/training/watchdog.ts";
import { sha256Hex } from "../../src/storage/hash.ts";
import { call, FAQ_TRAIN, SMALL } from "../helpers.ts";
import type { Env } from "../../src/env.ts";
import { resumeTrainingRun } from "../../src/functions/runControls.ts";
import { fit } from "../../src/model/fit.ts";
import { encodeModel } from "../../src/model/model.ts";
import type { Hyper } from "../../src/model/hyper.ts";
import { labelExamples, stratifiedSplit } from "../../src/model/prepare.ts";
import { crashOnce, db, drain, startRun as startHarnessRun, stepDepsFor, type Delivery } from "./harness.ts";
import { getBytes } from "../../src/storage/objects.ts";
import { UNLIMITED } from "../../src/security/quotas.ts";

interface Faults {
  /** Crash once at (point, seq). */
  crashes?: { point: CrashPoint; seq: number }[];
  /** Deliver every enqueued message twice. */
  duplicate?: boolean;
  /** After each step, also deliver a message for an older step. */
  stale?: boolean;
}

// Two ensemble members; 216 training rows (192 examples + 24 class texts) = 14 batches an epoch, 5 a step
// (160 member-examples): 3 steps an epoch. Then the refit on all 264 rows: 17 batches, 4 steps an epoch.
const CONFIG = { ...SMALL, epochs: 4, batch_size: 16, ensemble: 2, examples_per_step: 160, validation_split: 0.2, seed: 1234, early_stopping: false };

function startRun(agentId: string, queue: Delivery[], config: Record<string, unknown> = CONFIG): Promise<string> {
  return startHarnessRun(agentId, queue, FAQ_TRAIN, config);
}

/** Drives the queue to exhaustion with the faults injected; returns the outcomes seen. */
async function drive(queue: Delivery[], faults: Faults): Promise<StepOutcome[]> {
  const crashes = crashOnce(faults.crashes ?? []);
  const deps = stepDepsFor(queue, {
    enqueue: async (msg) => {
      queue.push({ msg, attempt: 1 });
      if (faults.duplicate) queue.push({ msg, attempt: 1 });
    },
    crash: crashes.crash,
  });
  const outcomes: StepOutcome[] = [];
  for (let guard = 0; queue.length > 0; guard++) {
    if (guard > 500) throw new Error("the queue does not drain");
    const d = queue.shift()!;
    // One delivery (redelivered at once when it crashes, as the queue would); what it enqueues joins `queue`.
    outcomes.push(...(await drain([d], deps)));
    if (faults.stale && d.msg.seq > 2) queue.push({ msg: { ...d.msg, seq: d.msg.seq - 2 }, attempt: 1 });
  }
  expect(crashes.unreached(), "crash points never reached").toEqual([]);
  return outcomes;
}

/** Weights are compared by SHA-256: byte-identical iff equal (and a mismatch prints a short diff). */
async function result(runId: string): Promise<{ weights: string; epochs: unknown[]; steps: unknown[] }> {
  const run = (await findRun(db, runId))!;
  expect(run.status, run.error ?? "").toBe("succeeded");
  const version = await env.DB.prepare("SELECT checkpoint_key FROM agent_versions WHERE run_id = ?").bind(runId).first<{ checkpoint_key: string }>();
  const weights = await getBytes(env.CHECKPOINTS, version!.checkpoint_key);
  const epochs = (await env.DB.prepare("SELECT epoch, train_loss, valid_loss, valid_accuracy FROM run_epochs WHERE run_id = ? ORDER BY epoch").bind(runId).all()).results;
  const steps = (await env.DB.prepare("SELECT seq, epoch, examples, train_loss FROM run_steps WHERE run_id = ? ORDER BY seq").bind(runId).all()).results;
  return { weights: await sha256Hex(weights!), epochs, steps };
}

async function runWith(agentId: string, faults: Faults, config: Record<string, unknown> = CONFIG): Promise<{ weights: string; epochs: unknown[]; steps: unknown[]; outcomes: StepOutcome[] }> {
  const queue: Delivery[] = [];
  const runId = await startRun(agentId, queue, config);
  const outcomes = await drive(queue, faults);
  return { ...(await result(runId)), outcomes };
}

describe("resumable steps", () => {
  it("crashes at every point, duplicates and stale messages all end in the same weights and metrics", async () => {
    const reference = await runWith("ft-reference", {});
    expect(reference.epochs).toHaveLength(5); // epoch 0 (untrained) + 4
    const best = (await env.DB.prepare("SELECT best_epoch FROM training_runs WHERE agent_id = 'ft-reference'").first<{ best_epoch: number }>())!.best_epoch;
    const trained = 4 * 3 + best * 4; // validation phase, then the refit for the chosen epoch's number of epochs
    expect(reference.steps).toHaveLength(trained);
    expect(reference.outcomes.filter((o) => o === "trained")).toHaveLength(trained);
    expect(best).toBeGreaterThanOrEqual(2); // so that the refit spans several steps

    const scenarios: [string, Faults][] = [
      ["crash before the checkpoint write", { crashes: [{ point: "before-checkpoint", seq: 1 }, { point: "before-checkpoint", seq: 12 }, { point: "before-checkpoint", seq: 13 }, { point: "before-checkpoint", seq: trained }] }],
      ["crash after the checkpoint write", { crashes: [{ point: "after-checkpoint", seq: 2 }, { point: "after-checkpoint", seq: 12 }, { point: "after-checkpoint", seq: 13 }, { point: "after-checkpoint", seq: 15 }] }],
      ["crash after the D1 advance, before the next enqueue", { crashes: [{ point: "after-commit", seq: 1 }, { point: "after-commit", seq: 12 }, { point: "after-commit", seq: 13 }, { point: "after-commit", seq: trained }] }],
      ["duplicated messages", { duplicate: true }],
      ["stale messages", { stale: true }],
      ["everything at once", { duplicate: true, stale: true, crashes: [{ point: "before-checkpoint", seq: 4 }, { point: "after-checkpoint", seq: 12 }, { point: "after-commit", seq: 14 }] }],
    ];
    for (const [i, [name, faults]] of scenarios.entries()) {
      const r = await runWith(`ft-${i}`, faults);
      expect(r.weights, name).toEqual(reference.weights);
      expect(r.epochs, name).toEqual(reference.epochs);
      expect(r.steps, name).toEqual(reference.steps);
    }

    // In process, cut into other steps: the same model, byte for byte (refit included).
    const resolved = (await env.DB.prepare("SELECT config FROM training_runs WHERE agent_id = 'ft-reference'").first<{ config: string }>())!;
    const inProcess = fit(FAQ_TRAIN, { ...(JSON.parse(resolved.config) as Hyper), examples_per_step: 1000 });
    expect(inProcess.plan.refit).not.toBeNull();
    expect(await sha256Hex(encodeModel(inProcess.model))).toEqual(reference.weights);
  });

  it("steps of several epochs stop early, keep a best epoch that ended mid-step, survive crashes, and match in-process training", async () => {
    // Steps of exactly three epochs (batches of 16).
    const hyper = { ...CONFIG, epochs: 12, learning_rate: 0.002, seed: 2, refit: false, selection_tolerance: 0, early_stopping: { patience: 2, min_delta: 0 } };
    const { labels, classes } = labelExamples(FAQ_TRAIN);
    const nTrain = FAQ_TRAIN.length - stratifiedSplit(labels, classes.length, hyper.seed, 0.2).valid.length + classes.length;
    const config = { ...hyper, examples_per_step: 3 * Math.ceil(nTrain / 16) * 16 * hyper.ensemble };
    const reference = await runWith("ft-multi-ref", {}, config);
    const run = (await env.DB.prepare("SELECT plan, best_epoch, epoch FROM training_runs WHERE agent_id = 'ft-multi-ref'").first<{ plan: string; best_epoch: number; epoch: number }>())!;
    expect(JSON.parse(run.plan)).toMatchObject({ epochs_per_step: 3, steps_per_epoch: 1, train_steps: 4 });
    // What this scenario covers: the best epoch ended inside a step, and early stopping ended a step early.
    expect(run.best_epoch % 3).not.toBe(0);
    expect(run.epoch).toBeLessThan(12);
    expect(run.epoch % 3).not.toBe(0);
    const lastSeq = reference.steps.length;

    const r = await runWith("ft-multi-crash", {
      duplicate: true,
      stale: true,
      crashes: [
        { point: "before-checkpoint", seq: 2 },
        { point: "after-checkpoint", seq: 3 },
        { point: "after-commit", seq: lastSeq },
      ],
    }, config);
    expect(r.weights).toEqual(reference.weights);
    expect(r.epochs).toEqual(reference.epochs);

    // The same run cut into many small steps, in process: the same model, byte for byte.
    const resolved = (await env.DB.prepare("SELECT config FROM training_runs WHERE agent_id = 'ft-multi-ref'").first<{ config: string }>())!;
    const inProcess = fit(FAQ_TRAIN, { ...(JSON.parse(resolved.config) as Hyper), examples_per_step: 16 });
    expect(inProcess.plan.steps_per_epoch).toBeGreaterThan(1);
    expect(inProcess.best_epoch).toBe(run.best_epoch);
    expect(await sha256Hex(encodeModel(inProcess.model))).toEqual(reference.weights);

    // With a refit after that early stop (it starts inside a step's range of epochs), through crashes too.
    const refitConfig = { ...config, refit: true };
    const refitRef = await runWith("ft-multi-refit", {}, refitConfig);
    const refitRun = (await env.DB.prepare("SELECT best_epoch, epoch, refitting FROM training_runs WHERE agent_id = 'ft-multi-refit'").first<{ best_epoch: number; epoch: number; refitting: number }>())!;
    expect(refitRun).toEqual({ best_epoch: run.best_epoch, epoch: run.best_epoch, refitting: 1 });
    const refitCrashed = await runWith("ft-multi-refit-crash", { duplicate: true, crashes: [{ point: "after-checkpoint", seq: lastSeq }, { point: "before-checkpoint", seq: lastSeq + 1 }, { point: "after-commit", seq: lastSeq + 1 }] }, refitConfig);
    expect(refitCrashed.weights).toEqual(refitRef.weights);
    expect(refitCrashed.steps).toEqual(refitRef.steps);
    const refitInProcess = fit(FAQ_TRAIN, { ...(JSON.parse(resolved.config) as Hyper), refit: true, examples_per_step: 16 });
    expect(await sha256Hex(encodeModel(refitInProcess.model))).toEqual(refitRef.weights);
    expect(refitRef.weights).not.toEqual(reference.weights);
  });

  it("the watchdog re-enqueues a run whose next step was lost", async () => {
    const queue: Delivery[] = [];
    const runId = await startRun("ft-watchdog", queue);
    queue.length = 0; // the first step's message is lost
    const deps = stepDepsFor(queue);
    expect(await rescueStaleRuns(deps, 60_000)).not.toContain(runId); // not stale yet
    expect(await rescueStaleRuns({ ...deps, now: () => Date.now() + 120_000 }, 60_000)).toContain(runId);
    expect(queue.map((d) => d.msg)).toEqual([{ run_id: runId, seq: 1 }]);
    await drive(queue, {});
    const reference = await runWith("ft-watchdog-ref", {});
    expect((await result(runId)).weights).toEqual(reference.weights);
  });

  it("a run whose dataset vanished fails with the reason instead of retrying forever", async () => {
    const queue: Delivery[] = [];
    const runId = await startRun("ft-missing", queue);
    const run = (await findRun(db, runId))!;
    // Another run may share the content-addressed dataset: give this one its own id.
    await env.DB.prepare("UPDATE training_runs SET dataset_id = 'ds_gone' WHERE id = ?").bind(runId).run();
    expect(run.datasetId).toMatch(/^ds_/);
    const outcomes = await drive(queue, {});
    expect(outcomes).toEqual(["failed"]);
    const failed = (await findRun(db, runId))!;
    expect(failed.status).toBe("failed");
    expect(failed.error).toMatch(/dataset ds_gone is missing/);
  });

  it("crashes inside the final step (before and after its commit) end with the same version and memories, written once", async () => {
    const reference = await runWith("ft-final-ref", {});
    const refRun = (await env.DB.prepare("SELECT id, seq FROM training_runs WHERE agent_id = 'ft-final-ref'").first<{ id: string; seq: number }>())!;
    const finalSeq = refRun.seq;
    const crashed = await runWith("ft-final-crash", {
      duplicate: true,
      crashes: [
        { point: "final-before-commit", seq: finalSeq },
        { point: "final-after-commit", seq: finalSeq },
      ],
    });
    expect(crashed.weights).toEqual(reference.weights);
    expect(crashed.epochs).toEqual(reference.epochs);
    const memories = async (agent: string) =>
      (await env.DB.prepare("SELECT count(*) AS n FROM agent_memories m JOIN training_runs r ON r.id = m.learned_from WHERE r.agent_id = ?").bind(agent).first<{ n: number }>())!.n;
    expect(await memories("ft-final-crash")).toBe(await memories("ft-final-ref"));
    expect(await memories("ft-final-ref")).toBeGreaterThan(0);
    const versions = await env.DB.prepare("SELECT count(*) AS n FROM agent_versions WHERE agent_id = 'ft-final-crash'").first<{ n: number }>();
    expect(versions!.n).toBe(1);
  });

  it("the same step delivered twice at once: one commits, the other changes nothing, and the run ends as an uninterrupted one", async () => {
    const reference = await runWith("ft-concurrent-ref", {});
    const queue: Delivery[] = [];
    const runId = await startRun("ft-concurrent", queue);
    const deps = stepDepsFor(queue);
    const outcomes: StepOutcome[] = [];
    for (let guard = 0; queue.length > 0; guard++) {
      if (guard > 200) throw new Error("the queue does not drain");
      const d = queue.shift()!;
      // Two consumers get the same message at the same moment.
      outcomes.push(...(await Promise.all([processStep(deps, d.msg, 1), processStep(deps, d.msg, 1)])));
      // A step's successor is enqueued by whichever copy committed: keep one of each.
      const seen = new Set<string>();
      for (let i = queue.length - 1; i >= 0; i--) {
        const k = JSON.stringify(queue[i].msg);
        if (seen.has(k)) queue.splice(i, 1);
        seen.add(k);
      }
    }
    expect(outcomes.filter((o) => o === "lost-race" || o === "stale").length).toBeGreaterThan(0);
    const r = await result(runId);
    expect(r.weights).toEqual(reference.weights);
    expect(r.epochs).toEqual(reference.epochs);
    expect(r.steps).toEqual(reference.steps);
  });

  it("cancelled while a step is in flight (not before the first): the step is not committed, and a resume ends as an uninterrupted run", async () => {
    const reference = await runWith("ft-cancel-ref", {});
    const queue: Delivery[] = [];
    const runId = await startRun("ft-cancel", queue);
    let cancelledAt = 0;
    const deps = stepDepsFor(queue, {
      crash: async (point, msg: StepMessage) => {
        // Step 3 has trained and written its checkpoint when the user cancels.
        if (point === "after-checkpoint" && msg.seq === 3 && !cancelledAt) {
          cancelledAt = msg.seq;
          expect((await call("cancelTrainingRun", { run_id: runId })).status).toBe(200);
        }
      },
    });
    const outcomes = await drain(queue, deps);
    expect(outcomes.at(-1)).toBe("lost-race");
    const stopped = (await findRun(db, runId))!;
    expect(stopped).toMatchObject({ status: "cancelled", seq: 2 });
    // Resume with a queue of our own (the Worker's queue consumer would race this test's).
    const collecting: Env = { ...env, STEPS: { send: async (msg: StepMessage) => void queue.push({ msg, attempt: 1 }) } as unknown as Env["STEPS"] };
    await resumeTrainingRun.handler({ env: collecting, db, appId: "default", actor: "local", quotas: UNLIMITED, now: () => Date.now(), waitUntil: () => {} }, { run_id: runId });
    expect(queue.map((d) => d.msg)).toEqual([{ run_id: runId, seq: 3 }]);
    await drain(queue, deps);
    const r = await result(runId);
    expect(r.weights).toEqual(reference.weights);
    expect(r.epochs).toEqual(reference.epochs);
    expect(r.steps).toEqual(reference.steps);
  });
});
