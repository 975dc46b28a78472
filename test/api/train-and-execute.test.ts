/** The seed's flow through the typed client (src/client): trainAgent → queue steps → executeAgent, versions, cancel and resume. */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { RunView } from "../../src/training/view.ts";
import { FAQ_HELDOUT, FAQ_TRAIN, refusal, testClient, waitForRun } from "../helpers.ts";
import { putBytes } from "../../src/storage/objects.ts";

const { functions } = testClient();

async function heldOutAccuracy(agentId: string): Promise<number> {
  let correct = 0;
  for (const e of FAQ_HELDOUT) if ((await functions.executeAgent({ agent_id: agentId, input: e.input })).class === e.expected_output) correct++;
  return correct / FAQ_HELDOUT.length;
}

describe("trainAgent → queue steps → executeAgent", () => {
  it("trains over several steps per epoch and answers held-out paraphrases far better than the untrained network", async () => {
    const started = await functions.trainAgent({
      agent_id: "faq-bot",
      training_data: FAQ_TRAIN,
      training_type: "supervised",
      // Few examples: 3 ensemble members and a refit. 192 examples + 24 class texts = 14 batches an epoch,
      // 480 member-examples a step = 10 batches: 2 steps an epoch; the refit on all 264 rows (17 batches) too.
      config: { epochs: 12, learning_rate: 0.002, validation_split: 0.2, seed: 7, examples_per_step: 480, early_stopping: false },
    });
    expect(started.status).toBe("queued");
    expect(started.plan.members).toBe(3);
    expect(started.plan.refit).toBe(true);
    expect(started.plan.steps_per_epoch).toBe(2);
    expect(started.plan.total_steps).toBe(12 * 2 + 12 * 2 + 1);

    const run = await waitForRun(started.run_id, 120_000);
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

    const one = await functions.executeAgent({ agent_id: "faq-bot", input: "I forgot my password, how do I get a new one?" });
    expect(one.class).toMatch(/reset your password/);
    expect(one.fallback).toBe(false);
    expect(one.output).toBe(one.class);
    expect(one.version).toBe(1);

    const gibberish = await functions.executeAgent({ agent_id: "faq-bot", input: "zxqv plorf" });
    expect(gibberish.fallback).toBe(true);
    expect(gibberish.output).toMatch(/not sure/);

    const rows = await env.DB.prepare("SELECT count(*) AS n FROM executions WHERE agent_id = 'faq-bot'").first<{ n: number }>();
    expect(rows!.n).toBe(FAQ_HELDOUT.length + 2);

    // Step checkpoints are cleaned up; the version's weights remain.
    expect((await env.CHECKPOINTS.list({ prefix: `apps/default/runs/${run.run_id}/` })).objects).toHaveLength(0);
    expect((await env.CHECKPOINTS.list({ prefix: "apps/default/agents/faq-bot/versions/" })).objects).toHaveLength(1);

    // GET /runs/:id answers the same view.
    expect((await testClient().runs.get(run.run_id)).metrics).toEqual(run.metrics);

    // A second run makes version 2 a candidate: version 1 stays live until 2 is promoted; both stay addressable.
    const second = await functions.trainAgent({ agent_id: "faq-bot", dataset_id: run.dataset_id, config: { epochs: 2, seed: 8 } });
    expect(second.deploy).toBe("candidate");
    expect((await waitForRun(second.run_id)).status).toBe("succeeded");
    const versionFor = async (version?: number) => (await functions.executeAgent({ agent_id: "faq-bot", input: "track my parcel", ...(version && { version }) })).version;
    expect(await versionFor()).toBe(1);
    expect(await versionFor(2)).toBe(2);
    expect((await functions.promoteVersion({ agent_id: "faq-bot", version: 2, reason: "reviewed" })).live_version).toBe(2);
    expect(await versionFor()).toBe(2);
    // deploy "immediate": the new version goes live when its run succeeds.
    const third = await functions.trainAgent({ agent_id: "faq-bot", dataset_id: run.dataset_id, config: { epochs: 1, seed: 9 }, deploy: "immediate" });
    expect((await waitForRun(third.run_id)).status).toBe("succeeded");
    expect(await versionFor()).toBe(3);
    expect(await versionFor(1)).toBe(1);
  });

  it("answers 409 naming the version when its stored weights cannot be read", async () => {
    const started = await functions.trainAgent({
      agent_id: "broken-bot",
      training_data: FAQ_TRAIN.slice(0, 60),
      config: { epochs: 2, seed: 4, features: { buckets: 4096 }, dim: 16, hidden: 16 },
    });
    const run = await waitForRun(started.run_id);
    expect(run.status).toBe("succeeded");
    const [object] = (await env.CHECKPOINTS.list({ prefix: "apps/default/agents/broken-bot/versions/" })).objects;
    await putBytes(env.CHECKPOINTS, object.key, new TextEncoder().encode("not a checkpoint at all"));
    // As a version from before weight hashes were recorded (one with a hash is refused as tampered: test/api/errors.test.ts).
    await env.DB.prepare("UPDATE agent_versions SET weights_sha256 = NULL WHERE agent_id = 'broken-bot'").run();
    const refused = await refusal(functions.executeAgent({ agent_id: "broken-bot", input: "where is my parcel" }));
    expect([refused.status, refused.code]).toEqual([409, "version_unreadable"]);
    expect(refused.message).toMatch(/version 1 cannot be read \(not a checkpoint/);
  });

  it("stores an int8 version when config.version_precision says so: fewer bytes, the same answers nearly everywhere", async () => {
    const config = { epochs: 4, seed: 5, dim: 64, hidden: 64 };
    const sizes: number[] = [];
    for (const [agent, precision] of [
      ["f16-bot", "float16"],
      ["int8-bot", "int8"],
    ] as const) {
      const r = await functions.trainAgent({ agent_id: agent, training_data: FAQ_TRAIN, config: { ...config, version_precision: precision } });
      expect(r.config.version_precision).toBe(precision);
      expect((await waitForRun(r.run_id)).status).toBe("succeeded");
      const [object] = (await env.CHECKPOINTS.list({ prefix: `apps/default/agents/${agent}/versions/` })).objects;
      sizes.push(object.size);
    }
    expect(sizes[1]).toBeLessThan(sizes[0] * 0.65);
    let same = 0;
    for (const e of FAQ_HELDOUT) {
      const [a, b] = await Promise.all(["f16-bot", "int8-bot"].map((agent) => functions.executeAgent({ agent_id: agent, input: e.input })));
      if (a.class === b.class) same++;
    }
    expect(same / FAQ_HELDOUT.length).toBeGreaterThan(0.95);
    // @ts-expect-error int4 is not a precision (the server says so too)
    const int4 = await refusal(functions.trainAgent({ agent_id: "x", training_data: FAQ_TRAIN, config: { version_precision: "int4" } }));
    expect([int4.status, int4.issues[0]?.path]).toEqual([400, "config.version_precision"]);
  });

  it("streams progress as Server-Sent Events until the run ends (the stream's wire format, read raw)", async () => {
    const started = await functions.trainAgent({
      agent_id: "sse-bot",
      training_data: FAQ_TRAIN.slice(0, 60),
      config: { epochs: 3, seed: 3, examples_per_step: 16, features: { buckets: 4096 }, dim: 16, hidden: 16 },
    });
    const res = await (await import("cloudflare:workers")).exports.default.fetch(
      new Request(`http://archon.test/runs/${started.run_id}/events`, { headers: { authorization: `Bearer ${env.API_KEY}` } }),
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
    const a = await functions.trainAgent({ agent_id: "cancel-bot", training_data: FAQ_TRAIN, config });
    expect((await functions.cancelTrainingRun({ run_id: a.run_id })).status).toBe("cancelled");
    await new Promise((r) => setTimeout(r, 300));
    expect((await functions.getTrainingRun({ run_id: a.run_id })).status).toBe("cancelled");
    expect((await refusal(functions.cancelTrainingRun({ run_id: a.run_id }))).status).toBe(409);
    expect((await functions.resumeTrainingRun({ run_id: a.run_id })).run_id).toBe(a.run_id);
    const done = await waitForRun(a.run_id);
    expect(done.status).toBe("succeeded");
    expect((await refusal(functions.resumeTrainingRun({ run_id: a.run_id }))).status).toBe(409);

    const b = await functions.trainAgent({ agent_id: "cancel-bot-ref", training_data: FAQ_TRAIN, config });
    const ref = await waitForRun(b.run_id);
    expect(done.metrics.epochs).toEqual(ref.metrics.epochs);
  });
});
