/**
 * Federated training (trainAgent's dataset_ids): each dataset of the app is
 * one shard, read only by its own shard steps (and by the coordinator and the
 * aggregators for the layout and the validation rows), never copied; the
 * run's model is the in-process driver's, byte for byte; and the datasets
 * must all be the app's own.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { trainAgent } from "../../src/functions/trainAgent.ts";
import type { Env } from "../../src/env.ts";
import type { StepMessage, TrainingMessage } from "../../src/training/messages.ts";
import { processTrainingMessage } from "../../src/training/step.ts";
import { findRun } from "../../src/training/runs.ts";
import { registerSealing } from "../../src/storage/sealing.ts";
import { keys } from "../../src/storage/keys.ts";
import { sha256Hex } from "../../src/storage/hash.ts";
import { getBytes } from "../../src/storage/objects.ts";
import { fitSharded } from "../../src/model/fit.ts";
import { encodeModel } from "../../src/model/model.ts";
import type { Example, Hyper } from "../../src/model/hyper.ts";
import { UNLIMITED } from "../../src/security/quotas.ts";
import { call, FAQ_TRAIN, request, SMALL } from "../helpers.ts";
import { db, stepDepsFor, type Delivery } from "./harness.ts";

const CONFIG = { ...SMALL, epochs: 3, batch_size: 16, ensemble: 1, validation_split: 0.2, seed: 91, early_stopping: false };

/** Three "regions" with different mixtures of the classes (every class in at least one). */
function regions(): Example[][] {
  const classes = [...new Set(FAQ_TRAIN.map((e) => e.expected_output))].sort();
  const out: Example[][] = [[], [], []];
  FAQ_TRAIN.forEach((e, i) => out[(classes.indexOf(e.expected_output) + (i % 4 === 0 ? 1 : 0)) % 3].push(e));
  return out;
}

async function upload(rows: Example[], name: string, key: string = env.API_KEY): Promise<string> {
  const up = await request<{ dataset_id: string }>("POST", `/datasets?format=jsonl&name=${name}`, rows.map((e) => JSON.stringify(e)).join("\n"), key, { "content-type": "text/plain" });
  expect(up.status, JSON.stringify(up.body)).toBeLessThan(300);
  return up.body.dataset_id;
}

describe("federated training (dataset_ids)", () => {
  it("trains one shard per dataset, each shard reading only its own dataset, nothing copied, as the in-process driver does", async () => {
    const sources = regions();
    const ids = [await upload(sources[0], "fed-north"), await upload(sources[1], "fed-south"), await upload(sources[2], "fed-east")];
    const datasetKeys = ids.map((id) => keys.dataset("default", id));
    const before = (await env.DATASETS.list({ prefix: "apps/default/" })).objects.map((o) => o.key).sort();

    // Every read of the datasets bucket, with the message being processed.
    let current: TrainingMessage | null = null;
    const reads: { msg: TrainingMessage | null; key: string }[] = [];
    const spy = new Proxy(env.DATASETS, {
      get(target, prop) {
        if (prop === "get") return (key: string, options?: R2GetOptions) => (reads.push({ msg: current, key }), target.get(key, options));
        const value: unknown = Reflect.get(target, prop);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    registerSealing({ ...env, DATASETS: spy });

    const queue: Delivery[] = [];
    const collecting: Env = { ...env, STEPS: { send: async (msg: StepMessage) => void queue.push({ msg, attempt: 1 }) } as unknown as Queue<StepMessage> };
    // A name stands for its latest version.
    const started = await trainAgent.handler(
      { env: collecting, db, appId: "default", actor: "local", quotas: UNLIMITED, now: () => Date.now(), waitUntil: () => {} },
      trainAgent.input.parse({ agent_id: "fed-agent", dataset_ids: ["fed-north", ids[1], ids[2]], config: CONFIG }),
    );
    expect(started.dataset_ids).toEqual(ids);
    expect(started.plan).toMatchObject({ shards: 3, refit: false });
    const run0 = (await findRun(db, started.run_id))!;
    expect(run0.datasetIds).toEqual(ids);
    expect(run0.config.distributed).toEqual({ workers: 3, sync_every: 256 });
    // Each shard's partition is its dataset's training split (plus the class texts dealt round robin).
    expect(run0.plan.partitions!.reduce((a, b) => a + b, 0)).toBe(run0.plan.n_train);
    const classes = new Set(FAQ_TRAIN.map((e) => e.expected_output)).size;
    run0.plan.partitions!.forEach((n, s) => {
      expect(n).toBeGreaterThanOrEqual(Math.floor(0.75 * sources[s].length));
      expect(n).toBeLessThanOrEqual(sources[s].length + Math.ceil(classes / 3));
    });

    const deps = stepDepsFor(queue, { datasets: spy });
    for (let guard = 0; queue.length > 0; guard++) {
      if (guard > 500) throw new Error("the queue does not drain");
      const d = queue.shift()!;
      current = d.msg;
      await processTrainingMessage(deps, d.msg, d.attempt);
    }
    registerSealing(env);
    const run = (await findRun(db, started.run_id))!;
    expect(run.status, run.error ?? "").toBe("succeeded");

    // Shard s read dataset s and nothing else; every dataset was read by its own shard.
    const shardReads = reads.filter((r) => r.msg && "shard" in r.msg);
    expect(shardReads.length).toBeGreaterThan(0);
    for (const r of shardReads) expect(r.key, JSON.stringify(r.msg)).toBe(datasetKeys[(r.msg as { shard: number }).shard]);
    for (const key of datasetKeys) expect(shardReads.some((r) => r.key === key)).toBe(true);
    // Nothing copied: the datasets bucket holds what was uploaded, and the run left nothing behind in the checkpoints.
    expect((await env.DATASETS.list({ prefix: "apps/default/" })).objects.map((o) => o.key).sort()).toEqual(before);
    expect((await env.CHECKPOINTS.list({ prefix: keys.runPrefix("default", run.id) })).objects).toHaveLength(0);

    // The in-process driver on the same sources: the same model, byte for byte.
    const version = await env.DB.prepare("SELECT checkpoint_key FROM agent_versions WHERE run_id = ?").bind(run.id).first<{ checkpoint_key: string }>();
    const weights = await sha256Hex((await getBytes(env.CHECKPOINTS, version!.checkpoint_key))!);
    const inProcess = fitSharded(sources, run.config as Hyper);
    expect(await sha256Hex(encodeModel(inProcess.model))).toEqual(weights);
    // The federated model learned: validation accuracy well above chance.
    const best = await env.DB.prepare("SELECT max(valid_accuracy) AS acc FROM run_epochs WHERE run_id = ?").bind(run.id).first<{ acc: number }>();
    expect(best!.acc).toBeGreaterThan(0.5);
  });

  it("refuses another app's dataset, a dataset named twice, a mismatched worker count and a split, naming the field", async () => {
    const sources = regions();
    const mine = [await upload(sources[0], "fed-a"), await upload(sources[1], "fed-b")];
    const made = await request<{ key: { key: string } }>("POST", "/admin/apps", { name: "fed-other" }, env.ADMIN_SECRET);
    // Content the default app never uploaded (ids are content hashes).
    const theirs = await upload(sources[2].slice(1), "fed-theirs", made.body.key.key);

    const foreign = await call("trainAgent", { agent_id: "fed-bad", dataset_ids: [mine[0], theirs], config: CONFIG });
    expect(foreign.status).toBe(404);
    expect(JSON.stringify(foreign.body)).toContain(theirs);
    for (const [body, path] of [
      [{ dataset_ids: [mine[0], mine[0]] }, "dataset_ids.1"],
      [{ dataset_ids: ["fed-a", mine[0]] }, "dataset_ids.1"],
      [{ dataset_ids: mine, config: { ...CONFIG, distributed: { workers: 3 } } }, "config.distributed.workers"],
      [{ dataset_ids: mine, split: "train" }, "split"],
      [{ dataset_ids: [mine[0]] }, "dataset_ids"],
      [{ dataset_ids: mine, dataset_id: mine[0] }, "training_data"],
    ] as const) {
      const bad = await call("trainAgent", { agent_id: "fed-bad", config: CONFIG, ...body });
      expect(bad.status, JSON.stringify(body)).toBe(400);
      expect(JSON.stringify(bad.body), JSON.stringify(body)).toContain(path);
    }
    // The run is planned with every dataset in hand: together they may hold no more than one dataset may.
    const big = [await upload(sources[0].slice(2), "fed-big-1"), await upload(sources[1].slice(2), "fed-big-2")];
    await env.DB.prepare("UPDATE datasets SET examples = 60000 WHERE id IN (?, ?)").bind(big[0], big[1]).run();
    const tooMany = await call("trainAgent", { agent_id: "fed-bad", dataset_ids: big, config: CONFIG });
    expect(tooMany.status).toBe(400);
    expect(JSON.stringify(tooMany.body)).toContain("120000 examples in all");
    // Nothing was started.
    expect(await env.DB.prepare("SELECT count(*) AS n FROM training_runs WHERE agent_id = 'fed-bad'").first<{ n: number }>()).toEqual({ n: 0 });
  });
});
