/**
 * The typed client (src/client) against the Worker: its types come from the
 * server's OpenAPI document (the committed copy must be the server's), calls
 * read like the seed, a run is watched as it trains, retried calls run once,
 * and errors carry the server's status, code and fields.
 */
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ArchonError, createClient, type RunView } from "../../src/client/index.ts";
import { OPENAPI_SHA256 } from "../../src/client/api.ts";
import { sha256Hex } from "../../src/storage/hash.ts";
import { countRows, FAQ_TRAIN, refusal, request, SMALL, testClient } from "../helpers.ts";

const workerFetch = (r: Request) => exports.default.fetch(r);
const client = testClient();

describe("the typed client", () => {
  it("is generated from the server's OpenAPI document (npm run client:generate when this fails)", async () => {
    const served = await request("GET", "/openapi.json", undefined, null);
    expect(served.status).toBe(200);
    expect(await sha256Hex(new TextEncoder().encode(JSON.stringify(served.body)))).toBe(OPENAPI_SHA256);
  });

  it("trains like the seed and watches the run to its end", async () => {
    const started = await client.functions.trainAgent({ agent_id: "client-bot", training_data: FAQ_TRAIN, config: { ...SMALL, epochs: 4, seed: 3, early_stopping: false, refit: false, examples_per_step: 150 } });
    expect(started.status).toBe("queued");
    const seen: RunView[] = [];
    for await (const run of client.runs.watch(started.run_id)) seen.push(run);
    const last = seen.at(-1)!;
    expect(last.status).toBe("succeeded");
    // States in order, each with at least as many epochs as the one before (how many states the stream shows depends
    // on the machine's speed against its 1 s poll: the browser test checks a longer run's curve growing).
    expect(seen.length).toBeGreaterThanOrEqual(2);
    const points = seen.map((r) => r.metrics.epochs.length);
    expect(points).toEqual([...points].sort((a, b) => a - b));
    expect(points.at(-1)).toBe(5); // epoch 0 and four epochs
    const answer = await client.functions.executeAgent({ agent_id: "client-bot", input: "where is my parcel" });
    expect(answer.version).toBe(1);
    // The agent's runs, newest first, with what each reached.
    const { runs } = await client.functions.listTrainingRuns({ agent_id: "client-bot" });
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ run_id: started.run_id, status: "succeeded", version: 1, epoch: 4, epochs: 4, shards: 1 });
    expect(runs[0].best_valid_accuracy).toBe(last.metrics.best_valid_accuracy);
  });

  it("watch reconnects whenever a stream ends (quiet ones too), sending the last event id, and ends with the run's done event", async () => {
    const view = (status: string, epochs: number) => JSON.stringify({ status, metrics: { epochs: Array.from({ length: epochs }, (_, e) => ({ epoch: e })) } });
    // Streams the server ends: with news, quiet ones (a long step: more of them than the client's failure budget), then done.
    const quiet = Array.from({ length: 7 }, () => `retry: 5\n\n: keep-alive\n\n`);
    const streams = [
      `retry: 5\n\nevent: progress\nid: 1.running\ndata: ${view("running", 1)}\n\n: keep-alive\n\n`,
      ...quiet,
      `retry: 5\n\nevent: progress\nid: 3.running\ndata: ${view("running", 3)}\n\n`,
      `event: done\nid: 5.succeeded\ndata: ${view("succeeded", 5)}\n\n`,
    ];
    const lastIds: (string | null)[] = [];
    const fake = createClient({
      baseUrl: "http://archon.test",
      apiKey: "k",
      fetch: async (r) => {
        lastIds.push(r.headers.get("last-event-id"));
        const body = streams[lastIds.length - 1];
        // Split mid-line, as a network may.
        const chunks = [body.slice(0, 17), body.slice(17)].map((c) => new TextEncoder().encode(c));
        return new Response(new ReadableStream({ start: (c) => { for (const x of chunks) c.enqueue(x); c.close(); } }), { headers: { "content-type": "text/event-stream" } });
      },
    });
    const states: string[] = [];
    for await (const run of fake.runs.watch("run_x")) states.push(`${run.status}:${run.metrics.epochs.length}`);
    expect(states).toEqual(["running:1", "running:3", "succeeded:5"]);
    expect(lastIds).toEqual([null, ...Array(8).fill("1.running"), "3.running"]);
  });

  it("watch reconnects after a connection that breaks mid-stream, from the last event id; it gives up after its reconnect budget", async () => {
    const view = (status: string, epochs: number) => JSON.stringify({ status, metrics: { epochs: Array.from({ length: epochs }, (_, e) => ({ epoch: e })) } });
    // A stream that delivers an event and then loses its connection (as a server restart or a dropped socket does).
    const broken = (text: string) => {
      let pulls = 0;
      return new ReadableStream<Uint8Array>({
        pull: (c) => (pulls++ === 0 ? c.enqueue(new TextEncoder().encode(text)) : c.error(new TypeError("terminated"))),
      });
    };
    const whole = (text: string) => new ReadableStream<Uint8Array>({ start: (c) => (c.enqueue(new TextEncoder().encode(text)), c.close()) });
    const lastIds: (string | null)[] = [];
    const flaky = createClient({
      baseUrl: "http://archon.test",
      apiKey: "k",
      retryBaseMs: 1,
      fetch: async (r) => {
        lastIds.push(r.headers.get("last-event-id"));
        const body =
          lastIds.length === 1
            ? broken(`retry: 5\n\nevent: progress\nid: 1.running\ndata: ${view("running", 1)}\n\n`)
            : lastIds.length === 2
              ? broken(": keep-alive\n\n")
              : whole(`event: done\nid: 4.succeeded\ndata: ${view("succeeded", 4)}\n\n`);
        return new Response(body, { headers: { "content-type": "text/event-stream" } });
      },
    });
    const states: string[] = [];
    for await (const run of flaky.runs.watch("run_x")) states.push(`${run.status}:${run.metrics.epochs.length}`);
    expect(states).toEqual(["running:1", "succeeded:4"]);
    expect(lastIds).toEqual([null, "1.running", "1.running"]);

    // A connection that always breaks: the watch ends with a network error once its budget is spent.
    let calls = 0;
    const dead = createClient({
      baseUrl: "http://archon.test",
      apiKey: "k",
      retryBaseMs: 1,
      fetch: async () => (calls++, new Response(broken(": keep-alive\n\n"), { headers: { "content-type": "text/event-stream" } })),
    });
    const error = await refusal((async () => {
      for await (const _ of dead.runs.watch("run_x", { maxReconnects: 2 })) void _;
    })());
    expect(error).toMatchObject({ status: 0, code: "network_error" });
    expect(calls).toBe(3);
  });

  it("retries a call whose answer was lost, and the retry runs nothing twice (one run, the first answer)", async () => {
    const runs = await countRows("training_runs");
    let calls = 0;
    const lossy = createClient({
      baseUrl: "http://archon.test",
      apiKey: env.API_KEY,
      retryBaseMs: 1,
      fetch: async (r) => {
        calls++;
        const res = await workerFetch(r);
        // The first answer is lost on its way back: the client sees a network failure.
        if (calls === 1) throw new TypeError("connection reset");
        return res;
      },
    });
    const out = await lossy.functions.trainAgent({ agent_id: "client-retry", training_data: FAQ_TRAIN.slice(0, 30), config: { ...SMALL, epochs: 1, seed: 1 } });
    expect(calls).toBe(2);
    expect(await countRows("training_runs")).toBe(runs + 1);
    // Without a key (idempotencyKey: false) the server keeps nothing for the call, and a lost answer is not retried.
    const kept = await countRows("idempotency_keys");
    calls = 0;
    const lost = await lossy.functions.getMetrics({ name: "executions" }, { idempotencyKey: false }).catch((x: unknown) => x);
    expect([calls, (lost as ArchonError).code, await countRows("idempotency_keys")]).toEqual([1, "network_error", kept]);
    expect((await client.runs.get(out.run_id)).run_id).toBe(out.run_id);
  });

  it("waits out a 429 as long as Retry-After says, then succeeds; gives up after its retries with the server's error", async () => {
    let calls = 0;
    const limitedOnce = createClient({
      baseUrl: "http://archon.test",
      apiKey: env.API_KEY,
      retryBaseMs: 1,
      fetch: async (r) => {
        calls++;
        if (calls === 1) return Response.json({ error: { code: "rate_limited", message: "slow down", retry_after_seconds: 0.01 } }, { status: 429, headers: { "retry-after": "0.01" } });
        return workerFetch(r);
      },
    });
    const metrics = await limitedOnce.functions.getMetrics({ name: "executions" });
    expect(calls).toBe(2);
    expect(metrics).toBeTypeOf("object");
    const alwaysBusy = createClient({ baseUrl: "http://archon.test", retries: 2, retryBaseMs: 1, fetch: async () => Response.json({ error: { code: "unavailable", message: "try later" } }, { status: 503 }) });
    const e = await alwaysBusy.functions.getMetrics({ name: "executions" }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ArchonError);
    expect([(e as ArchonError).status, (e as ArchonError).code]).toEqual([503, "unavailable"]);
  });

  it("throws the server's errors as ArchonError, with the status, the code and the fields at fault", async () => {
    // A wrong payload is a type error at compile time (test/types); sent anyway, the server names the field.
    const bad = { agent_id: "client-bad", training_data: [{ input: "", expected_output: "x" }] };
    const e = await client.functions.trainAgent(bad as Parameters<typeof client.functions.trainAgent>[0]).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ArchonError);
    const err = e as ArchonError;
    expect([err.status, err.code]).toEqual([400, "invalid_request"]);
    expect(err.issues.map((i) => i.path)).toContain("training_data.0.input");
    const unknown = await client.runs.get("run_000000000000000000000000").catch((x: unknown) => x);
    expect([(unknown as ArchonError).status, (unknown as ArchonError).code]).toEqual([404, "not_found"]);
    const noKey = createClient({ baseUrl: "http://archon.test", fetch: workerFetch, retries: 0 });
    expect(((await noKey.functions.getMetrics({ name: "executions" }).catch((x: unknown) => x)) as ArchonError).status).toBe(401);
  });

  it("uploads datasets (JSONL or CSV), content-addressed, and trains on one by id", async () => {
    const rows = FAQ_TRAIN.slice(0, 40);
    const jsonl = rows.map((e) => JSON.stringify(e)).join("\n");
    const first = await client.datasets.upload(jsonl, { format: "jsonl" });
    expect([first.examples, first.created]).toEqual([40, true]);
    const again = await client.datasets.upload(jsonl, { format: "jsonl" });
    expect([again.dataset_id, again.created]).toEqual([first.dataset_id, false]);
    const csv = "input,expected_output\n" + rows.map((e) => [e.input, e.expected_output].map((x) => `"${x.replace(/"/g, '""')}"`).join(",")).join("\n");
    expect((await client.datasets.upload(csv, { format: "csv" })).dataset_id).toBe(first.dataset_id);
    const run = await client.functions.trainAgent({ agent_id: "client-ds", dataset_id: first.dataset_id, config: { ...SMALL, epochs: 1, seed: 2 } });
    expect(run.dataset_id).toBe(first.dataset_id);
    const bad = await client.datasets.upload("not json\n", { format: "jsonl" }).catch((x: unknown) => x);
    expect([(bad as ArchonError).status, (bad as ArchonError).issues.length > 0]).toEqual([400, true]);
  });

  it("keeps agent memories through asServiceRole.entities.AgentMemory, base44's list(filter, sort, limit, skip) included", async () => {
    const { AgentMemory } = client.asServiceRole.entities;
    const a = await AgentMemory.create({ agent_id: "client-mem", memory_type: "semantic", content: { text: "parcels ship within two days" }, importance: 80 });
    const b = await AgentMemory.create({ agent_id: "client-mem", memory_type: "semantic", content: { text: "refunds take five days" }, importance: 20 });
    expect((await AgentMemory.get(a.id)).content).toEqual({ text: "parcels ship within two days" });
    const listed = await AgentMemory.list({ agent_id: "client-mem" }, "-importance", 1, 0);
    expect(listed.map((m) => m.id)).toEqual([a.id]);
    const next = await AgentMemory.list({ agent_id: "client-mem" }, "-importance", 1, 1);
    expect(next.map((m) => m.id)).toEqual([b.id]);
    const found = await AgentMemory.search({ agent_id: "client-mem", query: "how long does shipping take", top_k: 1 });
    expect(found.results[0].memory.id).toBe(a.id);
    const updated = await AgentMemory.update(b.id, { importance: 90 });
    expect(updated.importance).toBe(90);
    await AgentMemory.delete(b.id);
    expect(((await AgentMemory.get(b.id).catch((x: unknown) => x)) as ArchonError).status).toBe(404);
    // bulkCreate: all or none.
    const many = await AgentMemory.bulkCreate(["returns within 30 days", "support is open 9 to 5"].map((text) => ({ agent_id: "client-mem", memory_type: "semantic" as const, content: { text } })));
    expect(many.map((m) => m.content)).toEqual([{ text: "returns within 30 days" }, { text: "support is open 9 to 5" }]);
    const refused = (await AgentMemory.bulkCreate([{ agent_id: "client-mem", memory_type: "semantic", content: { text: "fine" } }, { agent_id: "client-mem", memory_type: "semantic", content: {}, importance: 500 }]).catch((x: unknown) => x)) as ArchonError;
    expect(refused.status).toBe(400);
    expect((await AgentMemory.list({ agent_id: "client-mem" })).map((m) => m.content)).not.toContainEqual({ text: "fine" });
  });
});
