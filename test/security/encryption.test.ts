/**
 * The security suite's storage half: every object in R2 is sealed (no
 * plaintext of the training data in the raw bytes), an altered or moved
 * object fails to load with a 409, and rotating the master key re-wraps data
 * keys without re-encrypting objects.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { database } from "../../src/db/client.ts";
import { DomainError } from "../../src/errors.ts";
import { keys } from "../../src/storage/keys.ts";
import { getBytes } from "../../src/storage/objects.ts";
import { isSealed, Keyring } from "../../src/storage/sealing.ts";
import { call, FAQ_TRAIN, request, SMALL, waitForRun } from "../helpers.ts";

const MARKER = "zebra quasar seventeen";
const utf8 = new TextEncoder();

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

async function allObjects(bucket: R2Bucket): Promise<string[]> {
  const out: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ cursor, limit: 1000 });
    out.push(...page.objects.map((o) => o.key));
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return out;
}

async function raw(bucket: R2Bucket, key: string): Promise<Uint8Array> {
  const obj = await bucket.get(key);
  if (!obj) throw new Error(`no object ${key}`);
  return new Uint8Array(await obj.arrayBuffer());
}

async function trainedAgent(agent: string): Promise<{ run_id: string; dataset_id: string }> {
  const data = [...FAQ_TRAIN.slice(0, 40), { input: `what is the ${MARKER} policy`, expected_output: `The ${MARKER} answer` }];
  const started = await call<{ run_id: string; dataset_id: string }>("trainAgent", { agent_id: agent, training_data: data, config: { ...SMALL, epochs: 1, seed: 1 } });
  expect(started.status).toBe(202);
  expect((await waitForRun(started.body.run_id)).status).toBe("succeeded");
  return started.body;
}

describe("encryption at rest", () => {
  it("seals every object: the raw bytes hold no plaintext of the data, and the service still reads them", async () => {
    const run = await trainedAgent("sealed-bot");
    const testing = await call<{ evaluation_id: string }>("testAgent", { agent_id: "sealed-bot", test_suite: [{ input: `the ${MARKER} policy?`, expected: `The ${MARKER} answer` }, ...FAQ_TRAIN.slice(0, 9).map((e) => ({ input: e.input, expected: e.expected_output }))] });
    expect([200, 202], JSON.stringify(testing.body)).toContain(testing.status);
    // A run cancelled after its first step keeps its step checkpoints (to resume from).
    const config = { epochs: 4, seed: 21, examples_per_step: 32, early_stopping: false, ...SMALL };
    const long = await call<{ run_id: string }>("trainAgent", { agent_id: "sealed-bot-2", training_data: [...FAQ_TRAIN, { input: `the ${MARKER} rule`, expected_output: `The ${MARKER} answer` }], config });
    for (let i = 0; i < 600; i++) {
      const r = await call<{ progress: { step: number } }>("getTrainingRun", { run_id: long.body.run_id });
      if (r.body.progress.step >= 1) break;
      await new Promise((res) => setTimeout(res, 20));
    }
    expect((await call("cancelTrainingRun", { run_id: long.body.run_id })).status).toBe(200);
    await new Promise((res) => setTimeout(res, 300));
    const objects = [...(await allObjects(env.DATASETS)).map((k) => [env.DATASETS, k] as const), ...(await allObjects(env.CHECKPOINTS)).map((k) => [env.CHECKPOINTS, k] as const)];
    const kinds = new Set(objects.map(([, k]) => k.split("/")[2]));
    for (const kind of ["datasets", "runs", "agents", "evaluations"]) expect(kinds, kind).toContain(kind);
    for (const [bucket, key] of objects) {
      const bytes = await raw(bucket, key);
      expect(isSealed(bytes), key).toBe(true);
      for (const needle of [MARKER, "expected_output", "reset"]) expect(contains(bytes, utf8.encode(needle)), `${key} holds '${needle}'`).toBe(false);
    }
    // ...and the service reads them: the dataset, its quality report, the live version.
    const dataset = await getBytes(env.DATASETS, keys.dataset("default", run.dataset_id));
    expect(new TextDecoder().decode(dataset!)).toContain(MARKER);
    expect((await request("GET", `/datasets/${run.dataset_id}/quality`)).status).toBe(200);
    expect((await call("executeAgent", { agent_id: "sealed-bot", input: `what is the ${MARKER} policy` })).status).toBe(200);
  });

  it("an altered, moved or unsealed object fails to load with 409 object_tampered, not a 500", async () => {
    const run = await trainedAgent("tamper-bot");
    const reportKey = keys.datasetReport("default", run.dataset_id);
    const original = await raw(env.DATASETS, reportKey);
    // One flipped bit.
    const flipped = original.slice();
    flipped[flipped.length - 20] ^= 1;
    await env.DATASETS.put(reportKey, flipped);
    const altered = await request<{ error: { code: string } }>("GET", `/datasets/${run.dataset_id}/quality`);
    expect([altered.status, altered.body.error.code]).toEqual([409, "object_tampered"]);
    // A valid object of another path put in its place (the dataset itself, sealed for its own key).
    await env.DATASETS.put(reportKey, await raw(env.DATASETS, keys.dataset("default", run.dataset_id)));
    expect((await request("GET", `/datasets/${run.dataset_id}/quality`)).status).toBe(409);
    // Plaintext put there from outside.
    await env.DATASETS.put(reportKey, utf8.encode(JSON.stringify({ quality: "forged" })));
    expect((await request("GET", `/datasets/${run.dataset_id}/quality`)).status).toBe(409);
    // The dataset moved into another app's space does not open there.
    const otherKey = keys.dataset("other-sealed-app", run.dataset_id);
    await env.DATASETS.put(otherKey, await raw(env.DATASETS, keys.dataset("default", run.dataset_id)));
    const moved = await getBytes(env.DATASETS, otherKey).catch((e: unknown) => e);
    expect(moved instanceof DomainError && moved.code).toBe("object_tampered");
    // Training from the altered dataset is refused as well.
    const ds = keys.dataset("default", run.dataset_id);
    const data = await raw(env.DATASETS, ds);
    data[30] ^= 0xff;
    await env.DATASETS.put(ds, data);
    const retrain = await call<{ error: { code: string } }>("trainAgent", { agent_id: "tamper-bot-2", dataset_id: run.dataset_id });
    expect([retrain.status, retrain.body.error.code]).toEqual([409, "object_tampered"]);
    await env.DATASETS.put(reportKey, original);
    expect((await request("GET", `/datasets/${run.dataset_id}/quality`)).status).toBe(200);
  });

  it("rotating the master key re-wraps data keys; objects are not re-encrypted and open with the new key alone", async () => {
    const db = database(env.DB);
    const [a, b, c] = ["a", "b", "c"].map((s) => btoa(s.repeat(32)));
    const key = "apps/rotation-app/datasets/ds_rotation.jsonl";
    const sealed = await new Keyring(db, a, undefined).seal(key, utf8.encode("rotation sample"));
    const both = new Keyring(db, b, a);
    expect(new TextDecoder().decode(await both.open(key, sealed))).toBe("rotation sample");
    // Opening re-wrapped the app's key; rewrapAll finds whatever is left (other apps' keys under `a`).
    const report = await both.rewrapAll();
    expect(report.remaining).toBe(0);
    const rows = await env.DB.prepare("SELECT DISTINCT master_id FROM data_keys WHERE app_id = 'rotation-app'").all();
    expect(rows.results.length).toBe(1);
    expect(new TextDecoder().decode(await new Keyring(db, b, undefined).open(key, sealed))).toBe("rotation sample");
    // A master key that never wrapped it cannot open it: a clear 503, not garbage.
    const unknown = await new Keyring(db, c, undefined).open(key, sealed).catch((e: unknown) => e);
    expect(unknown instanceof DomainError && [unknown.kind, unknown.code]).toEqual(["unavailable", "master_key_unknown"]);
    // Put the deployment's master back over every key `b` wrapped (the other tests' apps).
    await new Keyring(db, env.MASTER_KEY!, b).rewrapAll();
  });
});
