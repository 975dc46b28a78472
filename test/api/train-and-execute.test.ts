import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { ExecuteResult } from "../../src/agent/execute.ts";
import type { RunView } from "../../src/training/view.ts";
import { call, FAQ_HELDOUT, FAQ_TRAIN, request, waitForRun } from "../helpers.ts";
import { putBytes } from "../../src/storage/objects.ts";

type Execution = ExecuteResult;

async function heldOutAccuracy(agentId: string): Promise<number> {
  let correct = 0;
  for (const e of FAQ_HELDOUT) {
    const r = await call<Execution>("executeAgent", { agent_id: agentId, input: e.input });
    expect(r.status).toBe(200);
    if (r.body.class === e.expected_output) correct++;
  }
  return correct / FAQ_HELDOUT.length;
}

describe("trainAgent → queue steps → executeAgent", () => {
  it("trains over several steps per epoch and answers held-out paraphrases far better than the untrained network", async () => {
    const started = await call<{ run_id: string; status: string; plan: { steps_per_epoch: number; members: number; refit: boolean; total_steps: number } }>("trainAgent", {
      agent_id: "faq-bot",
      training_data: FAQ_TRAIN,
      training_type: "supervised",
      // Few examples: 3 ensemble members and a refit. 192 examples + 24 class texts = 14 batches an epoch,
      // 480 member-examples a step = 10 batches: 2 steps an epoch; the refit on all 264 rows (17 batches) too.
      config: { epochs: 12, learning_rate: 0.002, validation_split: 0.2, seed: 7, examples_per_step: 480, early_stopping: false },
    });
    expect(started.status).toBe(202);
    expect(started.body.status).toBe("queued");
    expect(started.body.plan.members).toBe(3);
    expect(started.body.plan.refit).toBe(true);
    expect(started.body.plan.steps_per_epoch).toBe(2);
    expect(started.body.plan.total_steps).toBe(12 * 2 + 12 * 2 + 1);

    const run = await waitForRun(started.body.run_id, 120_000);
    expect(run.status, run.error ?? "").toBe("succeeded");
    expect(run.progress.fraction).toBe(1);
    // The refit trains as many epochs as the chosen one had.
    const best = run.metrics.best_epoch!;
    expect(best).toBeGreaterThan(0);
    expect(run.progress.step).toBe(12 * 2 + best * 2 + 1);
    expect(run.progress).toMatchObject({ phase: "refit", epoch: best, epochs: best });
    expect(run.metrics.epochs.map((e) => e.epoch)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(run.timing.steps_committed).toBe(12 * 2 + best * 2);
    expect(run.version).toEqual({ id: expect.stringMatching(/^ver_/), version: 1 });

    // The untrained network (epoch 0) is at chance on the held-out split; the trained one is far above it.
    const baseline = run.metrics.baseline_valid_accuracy!;
    expect(baseline).toBeLessThan(0.2);
    expect(run.metrics.best_valid_accuracy!).toBeGreaterThan(0.6);

    // executeAgent on paraphrases never seen in training (not even in the validation split).
    const acc = await heldOutAccuracy("faq-bot");
    expect(acc).toBeGreaterThan(0.6);
    expect(acc).toBeGreaterThan(baseline + 0.4);

    const one = await call<Execution>("executeAgent", { agent_id: "faq-bot", input: "I forgot my password, how do I get a new one?" });
    expect(one.body.class).toMatch(/reset your password/);
    expect(one.body.fallback).toBe(false);
    expect(one.body.output).toBe(one.body.class);
    expect(one.body.version).toBe(1);

    const gibberish = await call<Execution>("executeAgent", { agent_id: "faq-bot", input: "zxqv plorf" });
    expect(gibberish.body.fallback).toBe(true);
    expect(gibberish.body.output).toMatch(/not sure/);

    const rows = await env.DB.prepare("SELECT count(*) AS n FROM executions WHERE agent_id = 'faq-bot'").first<{ n: number }>();
    expect(rows!.n).toBe(FAQ_HELDOUT.length + 2);

    // Step checkpoints are cleaned up; the version's weights remain.
    expect((await env.CHECKPOINTS.list({ prefix: `apps/default/runs/${run.run_id}/` })).objects).toHaveLength(0);
    expect((await env.CHECKPOINTS.list({ prefix: "apps/default/agents/faq-bot/versions/" })).objects).toHaveLength(1);

    // GET /runs/:id answers the same view.
    const viaRest = await request<RunView>("GET", `/runs/${run.run_id}`);
    expect(viaRest.body.metrics).toEqual(run.metrics);

    // A second run makes version 2 a candidate: version 1 stays live until 2 is promoted; both stay addressable.
    const second = await call<{ run_id: string; deploy: string }>("trainAgent", { agent_id: "faq-bot", dataset_id: run.dataset_id, config: { epochs: 2, seed: 8 } });
    expect(second.status).toBe(202);
    expect(second.body.deploy).toBe("candidate");
    expect((await waitForRun(second.body.run_id)).status).toBe("succeeded");
    expect((await call<Execution>("executeAgent", { agent_id: "faq-bot", input: "track my parcel" })).body.version).toBe(1);
    expect((await call<Execution>("executeAgent", { agent_id: "faq-bot", input: "track my parcel", version: 2 })).body.version).toBe(2);
    expect((await call("promoteVersion", { agent_id: "faq-bot", version: 2, reason: "reviewed" })).status).toBe(200);
    expect((await call<Execution>("executeAgent", { agent_id: "faq-bot", input: "track my parcel" })).body.version).toBe(2);
    // deploy "immediate": the new version goes live when its run succeeds.
    const third = await call<{ run_id: string }>("trainAgent", { agent_id: "faq-bot", dataset_id: run.dataset_id, config: { epochs: 1, seed: 9 }, deploy: "immediate" });
    expect((await waitForRun(third.body.run_id)).status).toBe("succeeded");
    expect((await call<Execution>("executeAgent", { agent_id: "faq-bot", input: "track my parcel" })).body.version).toBe(3);
    expect((await call<Execution>("executeAgent", { agent_id: "faq-bot", input: "track my parcel", version: 1 })).body.version).toBe(1);
  });

  it("answers 409 naming the version when its stored weights cannot be read", async () => {
    const started = await call<{ run_id: string }>("trainAgent", {
      agent_id: "broken-bot",
      training_data: FAQ_TRAIN.slice(0, 60),
      config: { epochs: 2, seed: 4, features: { buckets: 4096 }, dim: 16, hidden: 16 },
    });
    const run = await waitForRun(started.body.run_id);
    expect(run.status).toBe("succeeded");
    const [object] = (await env.CHECKPOINTS.list({ prefix: "apps/default/agents/broken-bot/versions/" })).objects;
    await putBytes(env.CHECKPOINTS, object.key, new TextEncoder().encode("not a checkpoint at all"));
    // As a version from before weight hashes were recorded (one with a hash is refused as tampered: test/api/errors.test.ts).
    await env.DB.prepare("UPDATE agent_versions SET weights_sha256 = NULL WHERE agent_id = 'broken-bot'").run();
    const r = await call<{ error: { code: string; message: string } }>("executeAgent", { agent_id: "broken-bot", input: "where is my parcel" });
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe("version_unreadable");
    expect(r.body.error.message).toMatch(/version 1 cannot be read \(not a checkpoint/);
  });

  it("stores an int8 version when config.version_precision says so: fewer bytes, the same answers nearly everywhere", async () => {
    const config = { epochs: 4, seed: 5, dim: 64, hidden: 64 };
    const sizes: number[] = [];
    for (const [agent, precision] of [
      ["f16-bot", "float16"],
      ["int8-bot", "int8"],
    ] as const) {
      const r = await call<{ run_id: string; config: { version_precision: string } }>("trainAgent", { agent_id: agent, training_data: FAQ_TRAIN, config: { ...config, version_precision: precision } });
      expect(r.body.config.version_precision).toBe(precision);
      expect((await waitForRun(r.body.run_id)).status).toBe("succeeded");
      const [object] = (await env.CHECKPOINTS.list({ prefix: `apps/default/agents/${agent}/versions/` })).objects;
      sizes.push(object.size);
    }
    expect(sizes[1]).toBeLessThan(sizes[0] * 0.65);
    let same = 0;
    for (const e of FAQ_HELDOUT) {
      const [a, b] = await Promise.all(["f16-bot", "int8-bot"].map((agent) => call<{ class: string }>("executeAgent", { agent_id: agent, input: e.input })));
      if (a.body.class === b.body.class) same++;
    }
    expect(same / FAQ_HELDOUT.length).toBeGreaterThan(0.95);
    expect((await call("trainAgent", { agent_id: "x", training_data: FAQ_TRAIN, config: { version_precision: "int4" } })).status).toBe(400);
  });

  it("streams progress as Server-Sent Events until the run ends", async () => {
    const started = await call<{ run_id: string }>("trainAgent", {
      agent_id: "sse-bot",
      training_data: FAQ_TRAIN.slice(0, 60),
      config: { epochs: 3, seed: 3, examples_per_step: 16, features: { buckets: 4096 }, dim: 16, hidden: 16 },
    });
    const res = await (await import("cloudflare:workers")).exports.default.fetch(
      new Request(`http://archon.test/runs/${started.body.run_id}/events`, { headers: { authorization: `Bearer ${env.API_KEY}` } }),
    );
    expect(res.headers.get("content-type")).toMatch(/text\/event-stream/);
    const text = await res.text();
    const events = text.split("\n\n").filter((e) => e.includes("data:"));
    const names = events.map((e) => /event: (\w+)/.exec(e)?.[1]);
    // How many progress events arrive depends on timing; the stream always ends with `done`.
    expect(names.at(-1)).toBe("done");
    expect(names.slice(0, -1).every((n) => n === "progress")).toBe(true);
    const last = JSON.parse(/data: (.*)/.exec(events.at(-1)!)![1]) as RunView;
    expect(last.status).toBe("succeeded");
  });

  it("cancels between steps and resumes to the same result", async () => {
    const config = { epochs: 4, seed: 21, examples_per_step: 32, early_stopping: false, features: { buckets: 4096 }, dim: 16, hidden: 16 };
    const a = await call<{ run_id: string }>("trainAgent", { agent_id: "cancel-bot", training_data: FAQ_TRAIN, config });
    const cancelled = await call<RunView>("cancelTrainingRun", { run_id: a.body.run_id });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe("cancelled");
    await new Promise((r) => setTimeout(r, 300));
    const stopped = await call<RunView>("getTrainingRun", { run_id: a.body.run_id });
    expect(stopped.body.status).toBe("cancelled");
    expect((await call("cancelTrainingRun", { run_id: a.body.run_id })).status).toBe(409);
    const resumed = await call<RunView>("resumeTrainingRun", { run_id: a.body.run_id });
    expect(resumed.status).toBe(200);
    const done = await waitForRun(a.body.run_id);
    expect(done.status).toBe("succeeded");
    expect((await call("resumeTrainingRun", { run_id: a.body.run_id })).status).toBe(409);

    const b = await call<{ run_id: string }>("trainAgent", { agent_id: "cancel-bot-ref", training_data: FAQ_TRAIN, config });
    const ref = await waitForRun(b.body.run_id);
    expect(done.metrics.epochs).toEqual(ref.metrics.epochs);
  });
});
