/** Every bad request answers 4xx naming the field, and leaves no run, dataset or agent behind. */
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { call, countObjects, countRows, FAQ_TRAIN, request } from "../helpers.ts";

interface ErrorBody {
  error: { code: string; message: string; issues?: { path: string; message: string }[]; functions?: string[] };
}

const good = { agent_id: "val-bot", training_data: FAQ_TRAIN.slice(0, 20), training_type: "supervised", config: { epochs: 2 } };

let before: number[];
async function footprint(): Promise<number[]> {
  return [await countRows("training_runs"), await countRows("datasets"), await countRows("agents"), await countObjects(env.DATASETS)];
}
beforeEach(async () => {
  before = await footprint();
});

async function expectInvalid(body: unknown, path: string, pattern?: RegExp): Promise<void> {
  const r = await call<ErrorBody>("trainAgent", body);
  expect(r.status, JSON.stringify(r.body)).toBe(400);
  expect(r.body.error.code).toBe("invalid_request");
  const issue = r.body.error.issues?.find((i) => i.path === path);
  expect(issue, `no issue at ${path}: ${JSON.stringify(r.body.error.issues)}`).toBeDefined();
  if (pattern) expect(issue!.message).toMatch(pattern);
  expect(await footprint()).toEqual(before);
}

describe("trainAgent rejects bad input with the field path", () => {
  it.each([
    ["missing agent_id", { ...good, agent_id: undefined }, "agent_id", /required/],
    ["agent_id with a slash", { ...good, agent_id: "a/b" }, "agent_id", /letters, digits/],
    ["training_data not an array", { ...good, training_data: "hello" }, "training_data", undefined],
    ["empty training_data", { ...good, training_data: [] }, "training_data", /at least one/],
    ["an example that is not an object", { ...good, training_data: [...good.training_data, 42] }, "training_data.20", undefined],
    ["an empty input", { ...good, training_data: [{ input: "  ", expected_output: "x" }, ...good.training_data] }, "training_data.0.input", /must not be empty/],
    ["a missing expected_output", { ...good, training_data: [...good.training_data, { input: "hi" }] }, "training_data.20.expected_output", /required/],
    ["a numeric input", { ...good, training_data: [{ input: 5, expected_output: "x" }, ...good.training_data] }, "training_data.0.input", /must be a string/],
    ["an input over the length limit", { ...good, training_data: [{ input: "a".repeat(2001), expected_output: "x" }, ...good.training_data] }, "training_data.0.input", /at most 2000/],
    ["a single distinct output", { ...good, training_data: [{ input: "a", expected_output: "same" }, { input: "b", expected_output: "same" }] }, "training_data", /at least 2 distinct/],
    ["both training_data and dataset_id", { ...good, dataset_id: "ds_" + "0".repeat(32) }, "training_data", /exactly one/],
    ["neither training_data nor dataset_id", { ...good, training_data: undefined }, "training_data", /exactly one/],
    ["a malformed dataset_id", { ...good, training_data: undefined, dataset_id: "not a name!" }, "dataset_id", /ds_ and 32 hex digits\) or a dataset name/],
    ["an unsupported training_type", { ...good, training_type: "unsupervised" }, "training_type", /supervised/],
    ["zero epochs", { ...good, config: { epochs: 0 } }, "config.epochs", undefined],
    ["a negative learning rate", { ...good, config: { learning_rate: -0.1 } }, "config.learning_rate", undefined],
    ["a validation_split of 0.9", { ...good, config: { validation_split: 0.9 } }, "config.validation_split", undefined],
    ["a fractional batch_size", { ...good, config: { batch_size: 3.5 } }, "config.batch_size", undefined],
    ["an unknown config key", { ...good, config: { learningRate: 0.1 } }, "config", /learningRate/],
    ["an ensemble of 9 networks", { ...good, config: { ensemble: 9 } }, "config.ensemble", undefined],
    ["a refit that is neither auto nor a boolean", { ...good, config: { refit: "always" } }, "config.refit", undefined],
    ["a vocabulary of 8 rows", { ...good, config: { features: { max_rows: 8 } } }, "config.features.max_rows", undefined],
    ["an unknown layer to freeze", { ...good, config: { freeze_layers: ["middle"] } }, "config.freeze_layers.0", undefined],
    ["an embedding too large for a Worker", { ...good, config: { dim: 512, features: { max_rows: 1 << 20 } } }, "config.dim", /at most/],
    ["an unknown top-level field", { ...good, learning_rate: 0.1 }, "body", /learning_rate/],
    ["feedback that is too large", { ...good, training_data: [{ input: "a", expected_output: "x", feedback: { note: "n".repeat(5_000) } }, ...good.training_data] }, "training_data.0.feedback", /4096 bytes/],
  ])("%s", async (_, body, path, pattern) => {
    await expectInvalid(body, path, pattern);
  });

  it("feedback nested too deep (as text: deeper than JSON.stringify could go)", async () => {
    const deep = `${'{"a":'.repeat(50_000)}1${"}".repeat(50_000)}`;
    const body = `{"agent_id":"val-bot","training_data":[{"input":"a","expected_output":"x","feedback":${deep}},{"input":"b","expected_output":"y"}]}`;
    const r = await request<ErrorBody>("POST", "/functions/trainAgent", body);
    expect(r.status).toBe(400);
    expect(r.body.error.issues?.[0]).toMatchObject({ path: "training_data.0.feedback" });
    expect(r.body.error.issues?.[0].message).toMatch(/nested more than 8 levels/);
    expect(await footprint()).toEqual(before);
  });

  it("a body that is not JSON", async () => {
    const r = await request<ErrorBody>("POST", "/functions/trainAgent", "{not json");
    expect(r.status).toBe(400);
    expect(r.body.error.issues?.[0].path).toBe("body");
    expect(await footprint()).toEqual(before);
  });

  it("more queue steps than a run may have", async () => {
    await expectInvalid({ ...good, training_data: FAQ_TRAIN, config: { examples_per_step: 1, batch_size: 1, epochs: 500 } }, "config.examples_per_step", /limit is 10000/);
  });

  it("a body sent as text/plain → 415", async () => {
    const r = await request<ErrorBody>("POST", "/functions/trainAgent", JSON.stringify(good), env.API_KEY, { "content-type": "text/plain" });
    expect(r.status).toBe(415);
    expect(r.body.error.code).toBe("unsupported_media_type");
    expect(await footprint()).toEqual(before);
  });

  it("a JSON array instead of an object", async () => {
    const r = await call<ErrorBody>("trainAgent", [good]);
    expect(r.status).toBe(400);
    expect(r.body.error.issues?.[0].path).toBe("body");
  });

  it("a dataset_id this app does not have → 404", async () => {
    const r = await call<ErrorBody>("trainAgent", { ...good, training_data: undefined, dataset_id: "ds_" + "a".repeat(32) });
    expect(r.status).toBe(404);
    expect(await footprint()).toEqual(before);
  });

  it("a body over 10 MB → 413", async () => {
    const big = JSON.stringify({ ...good, training_data: [{ input: "x".repeat(11 * 1024 * 1024), expected_output: "a" }] });
    const r = await request<ErrorBody>("POST", "/functions/trainAgent", big);
    expect(r.status).toBe(413);
    expect(r.body.error.code).toBe("payload_too_large");
    expect(await footprint()).toEqual(before);
  });
});

describe("the function surface", () => {
  it("an unknown function → 404 listing the known ones", async () => {
    const r = await call<ErrorBody>("trainAgentz", {});
    expect(r.status).toBe(404);
    expect(r.body.error.functions).toEqual(expect.arrayContaining(["trainAgent", "executeAgent", "getTrainingRun", "cancelTrainingRun", "resumeTrainingRun"]));
  });

  it("a known function called with GET → 405", async () => {
    expect((await request("GET", "/functions/trainAgent")).status).toBe(405);
  });

  it("no key, or a wrong key → 401", async () => {
    expect((await call("trainAgent", good, null)).status).toBe(401);
    expect((await call("trainAgent", good, "wrong-key")).status).toBe(401);
    expect(await footprint()).toEqual(before);
  });

  it("executeAgent: unknown agent → 404, missing input → 400, untrained agent → 409", async () => {
    expect((await call("executeAgent", { agent_id: "ghost", input: "hi" })).status).toBe(404);
    const r = await call<ErrorBody>("executeAgent", { agent_id: "ghost" });
    expect(r.status).toBe(400);
    expect(r.body.error.issues?.[0].path).toBe("input");
    await env.DB.prepare("INSERT INTO agents (app_id, id, updated_at) VALUES ('default', 'untrained', 0)").run();
    expect((await call("executeAgent", { agent_id: "untrained", input: "hi" })).status).toBe(409);
  });

  it("run controls: malformed id → 400, unknown id → 404", async () => {
    expect((await call("getTrainingRun", { run_id: "x" })).status).toBe(400);
    expect((await call("getTrainingRun", { run_id: "run_" + "0".repeat(24) })).status).toBe(404);
    expect((await request("GET", "/runs/run_" + "0".repeat(24))).status).toBe(404);
  });

  it("GET /openapi.json documents every function from its schemas", async () => {
    const r = await request<{ paths: Record<string, { post?: { requestBody?: unknown } }> }>("GET", "/openapi.json", undefined, null);
    expect(r.status).toBe(200);
    for (const f of ["trainAgent", "executeAgent", "getTrainingRun", "cancelTrainingRun", "resumeTrainingRun"]) {
      expect(r.body.paths[`/functions/${f}`]?.post?.requestBody, f).toBeDefined();
    }
    expect(JSON.stringify(r.body.paths["/functions/trainAgent"])).toContain("validation_split");
  });
});

describe("POST /datasets", () => {
  it("stores a CSV upload content-addressed and trains from it by dataset_id", async () => {
    const csv = "input,expected_output\n" + FAQ_TRAIN.slice(0, 30).map((e) => `"${e.input.replace(/"/g, '""')}","${e.expected_output.replace(/"/g, '""')}"`).join("\n");
    const up = await request<{ dataset_id: string; examples: number; classes: number; created: boolean }>("POST", "/datasets", csv, env.API_KEY, { "content-type": "text/csv" });
    expect(up.status).toBe(201);
    expect(up.body.examples).toBe(30);
    expect(up.body.classes).toBe(3);
    const again = await request<{ dataset_id: string; created: boolean }>("POST", "/datasets", csv, env.API_KEY, { "content-type": "text/csv" });
    expect(again.status).toBe(200);
    expect(again.body.dataset_id).toBe(up.body.dataset_id);
    // The same examples as JSONL are the same content: the same id.
    const jsonl = FAQ_TRAIN.slice(0, 30).map((e) => JSON.stringify(e)).join("\n");
    const asJsonl = await request<{ dataset_id: string }>("POST", "/datasets?format=jsonl", jsonl, env.API_KEY, { "content-type": "text/plain" });
    expect(asJsonl.body.dataset_id).toBe(up.body.dataset_id);
    const started = await call("trainAgent", { agent_id: "csv-bot", dataset_id: up.body.dataset_id, config: { epochs: 1 } });
    expect(started.status).toBe(202);
  });

  it("reports the line and field of bad rows, and stores nothing", async () => {
    const r = await request<ErrorBody>("POST", "/datasets", 'input,expected_output\nhello,greet\n"",bye\nhi,\n', env.API_KEY, { "content-type": "text/csv" });
    expect(r.status).toBe(400);
    expect(r.body.error.issues?.map((i) => i.path)).toEqual(["lines.3.input", "lines.4.expected_output"]);
    const j = await request<ErrorBody>("POST", "/datasets", '{"input":"a","expected_output":"x"}\n{oops\n', env.API_KEY, { "content-type": "application/x-ndjson" });
    expect(j.status).toBe(400);
    expect(j.body.error.code).toBe("invalid_request");
    expect(j.body.error.issues?.[0]).toEqual({ path: "lines.2", message: "is not valid JSON" });
    const header = await request<ErrorBody>("POST", "/datasets", "question,answer\na,b\n", env.API_KEY, { "content-type": "text/csv" });
    expect(header.status).toBe(400);
    expect(header.body.error.issues?.[0].path).toBe("lines.1");
    const fmt = await request<ErrorBody>("POST", "/datasets", "a,b", env.API_KEY, { "content-type": "application/octet-stream" });
    expect(fmt.status).toBe(400);
    expect(fmt.body.error.issues?.[0].path).toBe("format");
    expect(await footprint()).toEqual(before);
  });
});
