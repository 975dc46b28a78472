/**
 * Fuzzing every route in /openapi.json with generated malformed requests
 * (seeded, so a failure replays): wrong types, missing and unknown fields,
 * huge and deeply nested bodies, invalid UTF-8, hostile filter and sort
 * strings, odd and foreign ids, wrong content types. None may answer 5xx, and
 * a rejected request (4xx) must leave D1 and R2 exactly as they were.
 *
 * Requests go through the Worker with a queue that only collects messages, so
 * an accepted trainAgent never starts background training whose writes
 * would be taken for a rejected request's.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import worker from "../../src/index.ts";
import type { Env } from "../../src/env.ts";
import { sha256Hex } from "../../src/storage/hash.ts";
import { Rng } from "../../src/model/rng.ts";
import { countRows, FAQ_TRAIN } from "../helpers.ts";

const OTHER_KEY = "fuzz-other-app-key";
const SEED = 20261128;
const collected: unknown[] = [];
const fuzzEnv: Env = { ...env, STEPS: { send: async (m: unknown) => void collected.push(m) } as unknown as Env["STEPS"], SSE_STREAM_SECONDS: "0.2" };

interface Sent {
  method: string;
  path: string;
  body?: string | Uint8Array;
  contentType?: string;
  key?: string | null;
}

async function send(r: Sent): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = {};
  const key = r.key === undefined ? env.API_KEY : r.key;
  if (key) headers.authorization = `Bearer ${key}`;
  if (r.body !== undefined) headers["content-type"] = r.contentType ?? "application/json";
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(`http://archon.test${r.path}`, { method: r.method, headers, body: r.body }), fuzzEnv, ctx);
  const text = await res.text();
  await waitOnExecutionContext(ctx);
  return { status: res.status, text };
}

/** Every table the migrations made (read from the schema, so that a table added later is covered too). */
async function tables(): Promise<string[]> {
  const rows = await env.DB.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name NOT LIKE 'd1_%' ORDER BY name").all<{ name: string }>();
  return rows.results.map((r) => r.name);
}

/** Everything a request could change: every row of every table but the audit log (which records every request), and every stored object. */
async function snapshot(): Promise<string> {
  const parts: string[] = [];
  for (const t of (await tables()).filter((name) => name !== "audit_log")) {
    const rows = await env.DB.prepare(`SELECT * FROM ${t} ORDER BY rowid`).all();
    parts.push(`${t}:${JSON.stringify(rows.results)}`);
  }
  for (const bucket of [env.DATASETS, env.CHECKPOINTS]) parts.push((await bucket.list()).objects.map((o) => `${o.key}:${o.size}`).join(","));
  return sha256Hex(new TextEncoder().encode(parts.join("\n")));
}

/** Values of every wrong kind, hostile strings among them. */
const HOSTILE = [
  null,
  0,
  -1,
  1e308,
  true,
  "",
  " ",
  "'; DROP TABLE agent_memories; --",
  "\u0000\u0001\u001f",
  "\ud800",
  "🚀".repeat(300),
  "x".repeat(100_000),
  "../../etc/passwd",
  "__proto__",
  [],
  [1, 2, 3],
  {},
  { __proto__: { polluted: true } },
  { $gt: "" },
  Array.from({ length: 5000 }, (_, i) => i),
];

/** `{"a":…}` nested `depth` deep, as text. */
const nestedText = (depth: number) => `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;

function mutations(rng: Rng, valid: Record<string, unknown>): string[] {
  const keys = Object.keys(valid);
  const out: string[] = [];
  const pick = <T>(xs: readonly T[]) => xs[rng.int(xs.length)];
  for (const k of keys) {
    // The field missing, and the field of a wrong kind.
    const { [k]: _, ...without } = valid;
    out.push(JSON.stringify(without));
    out.push(JSON.stringify({ ...valid, [k]: pick(HOSTILE) }));
    out.push(JSON.stringify({ ...valid, [k]: pick(HOSTILE) }));
    // The field nested 20,000 deep.
    out.push(JSON.stringify({ ...valid, [k]: "§" }).replace('"§"', nestedText(20_000)));
  }
  out.push(JSON.stringify({ ...valid, unexpected_field: pick(HOSTILE) }));
  out.push(JSON.stringify([valid]), "null", "42", '"text"', "", "{", "{}", nestedText(100_000));
  return out;
}

const INVALID_UTF8 = new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0xc3, 0x28, 0x22, 0x7d]);

let foreign: { run: string; dataset: string; memory: string };
let own: { run: string; dataset: string; memory: string };

beforeAll(async () => {
  await env.DB.prepare("INSERT INTO api_keys (key_hash, app_id) VALUES (?, 'fuzz-other-app')")
    .bind(await sha256Hex(new TextEncoder().encode(OTHER_KEY)))
    .run();
  const make = async (key: string | undefined) => {
    const train = await send({ method: "POST", path: "/functions/trainAgent", body: JSON.stringify({ agent_id: "fuzz-bot", training_data: FAQ_TRAIN.slice(0, 20), config: { epochs: 1 } }), key });
    const ds = await send({ method: "POST", path: "/datasets", body: FAQ_TRAIN.slice(0, 20).map((e) => JSON.stringify(e)).join("\n"), contentType: "application/x-ndjson", key });
    const mem = await send({ method: "POST", path: "/entities/AgentMemory", body: JSON.stringify({ agent_id: "fuzz-bot", memory_type: "semantic", content: { text: "fuzz" } }), key });
    expect([train.status, mem.status]).toEqual([202, 201]);
    return { run: JSON.parse(train.text).run_id, dataset: JSON.parse(ds.text).dataset_id, memory: JSON.parse(mem.text).id };
  };
  own = await make(undefined);
  foreign = await make(OTHER_KEY);
});

describe("fuzzing every route", () => {
  it("at least 300 malformed requests: never a 5xx, and nothing changes when one is refused", async () => {
    const rng = new Rng(SEED);
    const doc = JSON.parse((await send({ method: "GET", path: "/openapi.json", key: null })).text) as {
      paths: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: unknown }> } }>>;
    };
    const validBodies: Record<string, Record<string, unknown>> = {
      "/functions/trainAgent": { agent_id: "fuzz-bot", training_data: FAQ_TRAIN.slice(0, 6), training_type: "supervised", config: { epochs: 1, validation_split: 0.1 } },
      "/functions/executeAgent": { agent_id: "fuzz-bot", input: "where is my parcel", version: 1 },
      "/functions/getTrainingRun": { run_id: own.run },
      "/functions/cancelTrainingRun": { run_id: own.run },
      "/functions/resumeTrainingRun": { run_id: own.run },
      "/entities/AgentMemory": { agent_id: "fuzz-bot", memory_type: "semantic", content: { text: "x" }, importance: 50, confidence: 1, tags: ["a"], learned_from: "fuzz" },
      "/entities/AgentMemory/search": { agent_id: "fuzz-bot", query: "parcel", top_k: 5, memory_types: ["semantic"], min_score: 0 },
      "/entities/AgentMemory/{id}": { content: { text: "y" }, importance: 10, tags: ["b"], expires_in_seconds: 60 },
    };
    const requests: Sent[] = [];
    const ids = (real: string, foreignId: string) => [real, foreignId, "x", "%00", "..%2F..%2Fapps", "a".repeat(2_000), "run_" + "0".repeat(24), "🚀", "'; DROP TABLE training_runs; --"];
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const method of Object.keys(methods).map((m) => m.toUpperCase())) {
        const isMemory = path.startsWith("/entities/AgentMemory/{id}");
        const concrete = (id: string) =>
          path.replace("{id}", encodeURIComponent(id)).replace(/\{[^}]+\}/g, encodeURIComponent(id));
        const pathIds = path.includes("{") ? ids(isMemory ? own.memory : path.startsWith("/datasets") ? own.dataset : own.run, isMemory ? foreign.memory : path.startsWith("/datasets") ? foreign.dataset : foreign.run) : [""];
        const template = validBodies[path] ?? (path === "/entities/AgentMemory/bulk" ? { 0: validBodies["/entities/AgentMemory"] } : undefined);
        for (const id of pathIds) {
          const p = path.includes("{") ? concrete(id) : path;
          if (method === "GET" || method === "DELETE") {
            // Only foreign or odd ids for these: never touch the app's own resources.
            if (id !== "" && (id === own.memory || id === own.run || id === own.dataset)) continue;
            requests.push({ method, path: p });
            continue;
          }
          if (id !== "" && (id === own.memory || id === own.run)) continue;
          requests.push({ method, path: p, body: JSON.stringify(template ?? {}) });
          requests.push({ method, path: p, body: INVALID_UTF8 });
          requests.push({ method, path: p, body: JSON.stringify(template ?? {}), contentType: "text/plain" });
          requests.push({ method, path: p, body: JSON.stringify(template ?? {}), key: null });
        }
        if (template && method !== "GET" && method !== "DELETE") {
          const target = path.includes("{") ? concrete(foreign.memory) : path;
          for (const body of mutations(rng, path === "/entities/AgentMemory/bulk" ? validBodies["/entities/AgentMemory"] : template)) {
            requests.push({ method, path: target, body: path === "/entities/AgentMemory/bulk" && body.startsWith("{") ? `[${body}]` : body });
          }
        }
      }
    }
    // Hostile list queries: filter and sort strings, paging.
    for (const filter of ['{"agent_id":{"$gt":""}}', "{'agent_id':1}", '{"__proto__":{"x":1}}', nestedText(5_000), "x".repeat(3_000), '{"tags":["a"]}', '{"agent_id":"fuzz-bot","memory_type":"dream"}', "null", "[]", '{"version_id":"\u0000"}']) {
      requests.push({ method: "GET", path: `/entities/AgentMemory?filter=${encodeURIComponent(filter)}` });
    }
    for (const q of ["sort=importance;DROP", "sort=-", "sort=" + "x".repeat(500), "limit=-1", "limit=1e9", "limit=abc", "skip=-5", "skip=99999999999", "limit=500&skip=0&sort=-access_count", "sort=__proto__"]) {
      requests.push({ method: "GET", path: `/entities/AgentMemory?${q}` });
    }
    // Bodies over the size limit, and unknown functions.
    requests.push({ method: "POST", path: "/functions/trainAgent", body: `{"agent_id":"fuzz-bot","training_data":[{"input":"${"a".repeat(11 * 2 ** 20)}","expected_output":"b"}]}` });
    requests.push({ method: "POST", path: "/functions/%2e%2e", body: "{}" }, { method: "PUT", path: "/functions/trainAgent", body: "{}" }, { method: "POST", path: "/datasets?format=xml", body: "a,b", contentType: "text/csv" });
    // Deep JSON wherever free JSON is accepted: feedback of a training example, memory content in bulk.
    requests.push({
      method: "POST",
      path: "/functions/trainAgent",
      body: `{"agent_id":"fuzz-bot","training_data":[{"input":"a","expected_output":"b","feedback":${nestedText(50_000)}},{"input":"c","expected_output":"d"}]}`,
    });

    expect(requests.length).toBeGreaterThanOrEqual(300);
    // The snapshot covers the tables of every feature, not only the first ones.
    expect(await tables()).toEqual(expect.arrayContaining(["feedback", "adaptations", "deployments", "evaluations", "traffic_splits", "metric_points", "optimizations", "optimization_trials"]));
    const routes = new Set<string>();
    let refused = 0;
    for (const [i, r] of requests.entries()) {
      const before = await snapshot();
      const audited = await countRows("audit_log");
      const res = await send(r);
      const label = `#${i} ${r.method} ${r.path.slice(0, 80)} ${typeof r.body === "string" ? r.body.slice(0, 120) : r.body ? "<bytes>" : ""}`;
      expect(res.status, `${label} → ${res.text.slice(0, 300)}`).toBeLessThan(500);
      if (res.status >= 400) {
        refused++;
        expect(await snapshot(), `${label} was refused (${res.status}) but changed the database`).toBe(before);
        // ...but it is in the audit log: one entry.
        expect(await countRows("audit_log"), label).toBe(audited + 1);
        expect(() => JSON.parse(res.text), label).not.toThrow();
        expect(JSON.parse(res.text).error?.code, label).toBeTypeOf("string");
      }
      routes.add(`${r.method} ${r.path.split("?")[0]}`);
    }
    expect(refused).toBeGreaterThan(250);
    // 300+ requests, each between two snapshots of every table: ~50 s alone on 2 cores, more beside other test files.
  }, 180_000);
});
