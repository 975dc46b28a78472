/**
 * Errors that come from the domain layers reach the client with their meaning
 * (409, 503…), never as a 500; and no route answers without a key unless it is
 * one of the public three.
 */
import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { database } from "../../src/db/client.ts";
import type { Env } from "../../src/env.ts";
import { resumeTrainingRun } from "../../src/functions/runControls.ts";
import { call, FAQ_TRAIN, request, SMALL, waitForRun } from "../helpers.ts";
import { getBytes, putBytes } from "../../src/storage/objects.ts";
import { UNLIMITED } from "../../src/security/quotas.ts";

interface ErrorBody {
  error: { code: string; message: string };
}

describe("domain errors reach the client with their meaning", () => {
  beforeAll(async () => {
    const started = await call<{ run_id: string }>("trainAgent", { agent_id: "err-bot", training_data: FAQ_TRAIN.slice(0, 40), config: { ...SMALL, epochs: 1, seed: 3 } });
    expect((await waitForRun(started.body.run_id)).status).toBe("succeeded");
  });

  it("executeAgent with memories from another embedder → 409 embedding_mismatch", async () => {
    await env.DB.prepare("UPDATE memory_vectors SET dim = 1536, embedder = 'openai:text-embedding-3-small' WHERE agent_id = 'err-bot'").run();
    await env.DB.prepare("INSERT INTO vector_changes (app_id, agent_id, vector_id) SELECT app_id, agent_id, id FROM memory_vectors WHERE agent_id = 'err-bot'").run();
    const r = await call<ErrorBody>("executeAgent", { agent_id: "err-bot", input: "where is my parcel" });
    expect(r.status, JSON.stringify(r.body)).toBe(409);
    expect(r.body.error.code).toBe("embedding_mismatch");
    expect(r.body.error.message).toMatch(/1536/);
  });

  it("trainAgent on a dataset whose stored content is gone → 409 dataset_missing, nothing written", async () => {
    const jsonl = FAQ_TRAIN.slice(0, 30).map((e) => JSON.stringify(e)).join("\n");
    const up = await request<{ dataset_id: string }>("POST", "/datasets", jsonl, env.API_KEY, { "content-type": "application/x-ndjson" });
    expect(up.status).toBe(201);
    const [object] = (await env.DATASETS.list({ prefix: "apps/default/datasets/" })).objects.filter((o) => o.key.includes(up.body.dataset_id));
    await env.DATASETS.delete(object.key);
    const runs = await env.DB.prepare("SELECT count(*) AS n FROM training_runs").first<{ n: number }>();
    const r = await call<ErrorBody>("trainAgent", { agent_id: "err-ds-bot", dataset_id: up.body.dataset_id });
    expect(r.status, JSON.stringify(r.body)).toBe(409);
    expect(r.body.error.code).toBe("dataset_missing");
    expect(await env.DB.prepare("SELECT count(*) AS n FROM training_runs").first<{ n: number }>()).toEqual(runs);
  });

  it("weights altered in storage → 409 version_tampered (checked against the SHA-256 recorded at training), never served", async () => {
    const started = await call<{ run_id: string }>("trainAgent", { agent_id: "err-tamper-bot", training_data: FAQ_TRAIN.slice(0, 40), config: { ...SMALL, epochs: 1, seed: 5 } });
    expect((await waitForRun(started.body.run_id)).status).toBe("succeeded");
    const row = await env.DB.prepare("SELECT weights_sha256 AS sha FROM agent_versions WHERE agent_id = 'err-tamper-bot'").first<{ sha: string }>();
    expect(row?.sha).toMatch(/^[0-9a-f]{64}$/);
    const [object] = (await env.CHECKPOINTS.list({ prefix: "apps/default/agents/err-tamper-bot/versions/" })).objects;
    const bytes = (await getBytes(env.CHECKPOINTS, object.key))!;
    bytes[bytes.length - 5] ^= 0x40; // one bit of one weight: still a well-formed checkpoint
    await putBytes(env.CHECKPOINTS, object.key, bytes); // sealed anew: the SHA-256 check is what refuses it
    const r = await call<ErrorBody>("executeAgent", { agent_id: "err-tamper-bot", input: "where is my parcel" });
    expect(r.status, JSON.stringify(r.body)).toBe(409);
    expect(r.body.error.code).toBe("version_tampered");
    // Nor is it a base to transfer from.
    const transfer = await call<ErrorBody>("trainAgent", { agent_id: "err-tamper-child", training_type: "transfer", training_data: FAQ_TRAIN.slice(0, 20), config: { base_agent_id: "err-tamper-bot", epochs: 1 } });
    expect(transfer.status, JSON.stringify(transfer.body)).toBe(409);
    expect(transfer.body.error.code).toBe("version_tampered");
  });

  it("a dataset altered in storage → 409 dataset_tampered (its id is its content's SHA-256), nothing written", async () => {
    const jsonl = FAQ_TRAIN.slice(0, 31).map((e) => JSON.stringify(e)).join("\n");
    const up = await request<{ dataset_id: string }>("POST", "/datasets", jsonl, env.API_KEY, { "content-type": "application/x-ndjson" });
    expect(up.status).toBe(201);
    const [object] = (await env.DATASETS.list({ prefix: "apps/default/datasets/" })).objects.filter((o) => o.key.endsWith(`${up.body.dataset_id}.jsonl`));
    const text = new TextDecoder().decode((await getBytes(env.DATASETS, object.key))!);
    // Sealed anew (as by someone holding the keys): the content hash is what refuses it.
    await putBytes(env.DATASETS, object.key, new TextEncoder().encode(text.replace(/"input":"[^"]*"/, '"input":"transfer all my money to account 123"')));
    const runs = await env.DB.prepare("SELECT count(*) AS n FROM training_runs").first<{ n: number }>();
    const r = await call<ErrorBody>("trainAgent", { agent_id: "err-ds-tamper", dataset_id: up.body.dataset_id });
    expect(r.status, JSON.stringify(r.body)).toBe(409);
    expect(r.body.error.code).toBe("dataset_tampered");
    expect(await env.DB.prepare("SELECT count(*) AS n FROM training_runs").first<{ n: number }>()).toEqual(runs);
  });

  it("a version whose checkpoint header is not JSON → 409 version_unreadable", async () => {
    const started = await call<{ run_id: string }>("trainAgent", { agent_id: "err-header-bot", training_data: FAQ_TRAIN.slice(0, 40), config: { ...SMALL, epochs: 1, seed: 4 } });
    expect((await waitForRun(started.body.run_id)).status).toBe("succeeded");
    const [object] = (await env.CHECKPOINTS.list({ prefix: "apps/default/agents/err-header-bot/versions/" })).objects;
    // A valid magic and format, then a header that does not parse.
    const header = new TextEncoder().encode("{not json at all");
    const bytes = new Uint8Array(12 + header.length);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, 0x4b435241, true);
    view.setUint32(4, 2, true);
    view.setUint32(8, header.length, true);
    bytes.set(header, 12);
    await putBytes(env.CHECKPOINTS, object.key, bytes); // sealed anew: the SHA-256 check is what refuses it
    // As a version from before weight hashes were recorded: its bytes are decoded, and that fails.
    await env.DB.prepare("UPDATE agent_versions SET weights_sha256 = NULL WHERE agent_id = 'err-header-bot'").run();
    const r = await call<ErrorBody>("executeAgent", { agent_id: "err-header-bot", input: "where is my parcel" });
    expect(r.status, JSON.stringify(r.body)).toBe(409);
    expect(r.body.error.code).toBe("version_unreadable");
  });

  it("resumeTrainingRun when the queue refuses the message → 503, and the run is left as it was", async () => {
    const started = await call<{ run_id: string }>("trainAgent", { agent_id: "err-resume-bot", training_data: FAQ_TRAIN.slice(0, 40), config: { ...SMALL, epochs: 1, seed: 6 } });
    await call("cancelTrainingRun", { run_id: started.body.run_id });
    await new Promise((r) => setTimeout(r, 200));
    const before = await env.DB.prepare("SELECT status, seq, finished_at FROM training_runs WHERE id = ?").bind(started.body.run_id).first();
    expect(before).toMatchObject({ status: "cancelled" });
    const broken: Env = { ...env, STEPS: { send: async () => Promise.reject(new Error("queue unavailable")) } as unknown as Env["STEPS"] };
    const ctx = { env: broken, db: database(env.DB), appId: "default", actor: "local", quotas: UNLIMITED, now: () => Date.now(), waitUntil: () => {} };
    const error = await resumeTrainingRun.handler(ctx, { run_id: started.body.run_id }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ kind: "unavailable", code: "queue_unavailable" });
    expect(await env.DB.prepare("SELECT status, seq, finished_at FROM training_runs WHERE id = ?").bind(started.body.run_id).first()).toEqual(before);
    // And it can simply be repeated once the queue works.
    expect((await call("resumeTrainingRun", { run_id: started.body.run_id })).status).toBe(200);
  });
});

describe("only the public routes answer without a key", () => {
  it("every route in /openapi.json answers 401 without a key, and so does an unknown path", async () => {
    const doc = await request<{ paths: Record<string, Record<string, unknown>> }>("GET", "/openapi.json", undefined, null);
    expect(doc.status).toBe(200);
    const routes = Object.entries(doc.body.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => [m.toUpperCase(), path.replace(/\{[^}]+\}/g, "x")] as const));
    expect(routes.length).toBeGreaterThan(10);
    for (const [method, path] of routes) {
      const r = await request(method, path, method === "GET" || method === "DELETE" ? undefined : {}, null);
      expect(r.status, `${method} ${path}`).toBe(401);
    }
    for (const [method, path] of [["GET", "/nothing-here"], ["POST", "/admin/secret"], ["GET", "/runs"]] as const) {
      expect((await request(method, path, undefined, null)).status, `${method} ${path}`).toBe(401);
    }
    for (const path of ["/health", "/", "/openapi.json"]) {
      expect((await exports.default.fetch(new Request(`http://archon.test${path}`))).status, path).toBe(200);
    }
  });
});
