/** Named dataset versions with lineage, their diff, stable splits, datasets from executions, preprocessing and bad uploads. */
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { assignSplits, hashSplit } from "../../src/data/splits.ts";
import { cleanText } from "../../src/data/clean.ts";
import type { Example } from "../../src/data/examples.ts";
import { call, FAQ_TRAIN, refusal, request, SMALL, testClient, waitForRun } from "../helpers.ts";
import { getBytes } from "../../src/storage/objects.ts";

const jsonl = (rows: readonly Example[]) => rows.map((e) => JSON.stringify(e)).join("\n");
interface Uploaded {
  dataset_id: string;
  created: boolean;
  version: { name: string; version: number; parent_dataset_id: string | null; lineage: { source: string; preprocessing: { changed: Record<string, number> } } };
  preprocessing: { changed: Record<string, number> };
}
const upload = (body: string | Uint8Array, name?: string) =>
  request<Uploaded & { error: { issues: { path: string; message: string; code?: string }[] } }>("POST", `/datasets?format=jsonl${name ? `&name=${name}` : ""}`, body as string, env.API_KEY, { "content-type": "text/plain" });

describe("dataset versions", () => {
  it("versions a named dataset, keeps its lineage, and diffs two versions", async () => {
    const v1 = await upload(jsonl(FAQ_TRAIN), "faq");
    expect(v1.status).toBe(201);
    expect(v1.body.version).toMatchObject({ name: "faq", version: 1, parent_dataset_id: null, lineage: { source: "upload" } });
    const again = await upload(jsonl(FAQ_TRAIN), "faq");
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ created: false, version: { version: 1 } });
    // Version 2: three removed, five added, two relabeled.
    const other = FAQ_TRAIN[100].expected_output;
    const changed = [
      ...FAQ_TRAIN.slice(3).map((e, i) => (i === 10 || i === 20 ? { ...e, expected_output: e.expected_output === other ? FAQ_TRAIN[0].expected_output : other } : e)),
      ...Array.from({ length: 5 }, (_, i) => ({ input: `a brand new question number ${"abcde"[i]} about gift cards`, expected_output: other })),
    ];
    const v2 = await upload(jsonl(changed), "faq");
    expect(v2.status).toBe(201);
    expect(v2.body.version).toMatchObject({ version: 2, parent_dataset_id: v1.body.dataset_id });
    const versions = await request<{ versions: { version: number; dataset_id: string; examples: number; quality_score: number }[] }>("GET", "/datasets/faq/versions");
    expect(versions.body.versions.map((v) => [v.version, v.dataset_id])).toEqual([
      [1, v1.body.dataset_id],
      [2, v2.body.dataset_id],
    ]);
    expect(versions.body.versions[0].quality_score).toBeGreaterThan(90);
    const diff = await request<{ added: number; removed: number; relabeled: number; unchanged: number }>("GET", "/datasets/faq/diff?from=1&to=2");
    expect(diff.status).toBe(200);
    expect(diff.body).toMatchObject({ added: 5, removed: 3, relabeled: 2, unchanged: FAQ_TRAIN.length - 5 });
    expect((await request("GET", "/datasets/faq/diff?from=1&to=9")).status).toBe(404);
    expect((await request("GET", "/datasets/faq")).body).toMatchObject({ dataset_id: v2.body.dataset_id, version: { version: 2 } });

    // Training and testing name a version and a split.
    const train = await call<{ run_id: string; plan: { n_train: number; n_valid: number } }>("trainAgent", { agent_id: "ver-bot", dataset_id: "faq", dataset_version: 1, split: "train", config: { ...SMALL, epochs: 2 } });
    expect(train.status).toBe(202);
    const trainSplit = assignSplits(FAQ_TRAIN).filter((s) => s === "train").length;
    expect(train.body.plan.n_train + train.body.plan.n_valid).toBeLessThanOrEqual(trainSplit + 24); // the class names train too (label_examples)
    expect((await waitForRun(train.body.run_id)).status).toBe("succeeded");
    const tested = await call<{ cases: number }>("testAgent", { agent_id: "ver-bot", dataset_id: "faq", dataset_version: 1, split: "test", evaluation_criteria: ["accuracy"] });
    expect(tested.status).toBe(200);
    expect(tested.body.cases).toBe(assignSplits(FAQ_TRAIN).filter((s) => s === "test").length);
    expect((await call("trainAgent", { agent_id: "ver-bot", dataset_id: v1.body.dataset_id, dataset_version: 1 })).status).toBe(400);
    expect((await call("trainAgent", { agent_id: "ver-bot", dataset_id: "no-such-set" })).status).toBe(404);
  });

  it("appends parts to a named dataset (how a dataset larger than one request is uploaded), idempotently, never onto a stale version", async () => {
    const { datasets } = testClient();
    const part = (k: number) => jsonl(FAQ_TRAIN.slice(k * 80, (k + 1) * 80));
    const first = await datasets.upload(part(0), { format: "jsonl", name: "parts", append: "true" });
    expect([first.examples, first.version?.version, first.version?.parent_dataset_id]).toEqual([80, 1, null]);
    const second = await datasets.upload(part(1), { format: "jsonl", name: "parts", append: "true" });
    expect([second.examples, second.version?.version, second.version?.parent_dataset_id]).toEqual([160, 2, first.dataset_id]);
    expect(second.version?.lineage).toMatchObject({ rows: 80, appended_to: { version: 1, dataset_id: first.dataset_id, examples: 80 } });
    // A part sent again (a retry) adds nothing.
    const again = await datasets.upload(part(1), { format: "jsonl", name: "parts", append: "true" });
    expect([again.created, again.examples, again.version?.version]).toEqual([false, 160, 2]);
    const third = await datasets.upload(part(2), { format: "jsonl", name: "parts", append: "true" });
    expect(third.examples).toBe(240);
    // The whole, in one upload, is the same content: the same id.
    expect((await datasets.upload(jsonl(FAQ_TRAIN), { format: "jsonl" })).dataset_id).toBe(third.dataset_id);
    // Without a name there is nothing to append to.
    const bad = await refusal(datasets.upload(part(0), { format: "jsonl", append: "true" }));
    expect([bad.status, bad.issues[0]?.path]).toEqual([400, "append"]);
    // A part built on a version that is no longer the latest is refused (its rows would be lost), and nothing is added.
    const { addVersion } = await import("../../src/data/versions.ts");
    const { database } = await import("../../src/db/client.ts");
    const stale = await addVersion(database(env.DB), "default", "parts", "ds_" + "0".repeat(32), {}, Date.now(), first.dataset_id).catch((e: unknown) => e);
    expect((stale as { code?: string }).code).toBe("dataset_changed");
    expect((await request<{ versions: unknown[] }>("GET", "/datasets/parts/versions")).body.versions).toHaveLength(3);
  });

  it("splits by a stable hash of the normalized input, and near-duplicates of test examples go to test", () => {
    const inputs = FAQ_TRAIN.map((e) => e.input);
    // The same input, however written, in every version: the same split.
    for (const s of inputs.slice(0, 50)) expect(hashSplit(`  ${s.toUpperCase()}!! `)).toBe(hashSplit(s));
    const shares = { train: 0, validation: 0, test: 0 };
    for (const s of inputs) shares[hashSplit(s)]++;
    expect(shares.train).toBeGreaterThan(inputs.length * 0.65);
    const testOne = inputs.find((s) => hashSplit(s) === "test" && s.split(" ").length > 4)!;
    // A near-duplicate whose own hash says train follows its test twin.
    let twin = "";
    for (let k = 0; k < 200 && !twin; k++) {
      const candidate = `${testOne} ${"x".repeat(k % 3)}${k}`.trim();
      if (hashSplit(candidate) === "train") twin = candidate;
    }
    const rows = [
      { input: testOne, expected_output: "a" },
      { input: twin, expected_output: "a" },
    ];
    expect(assignSplits(rows)).toEqual(["test", "test"]);
  });

  it("makes a dataset from executions and their feedback, with the executions as lineage", async () => {
    const started = await call<{ run_id: string }>("trainAgent", { agent_id: "exec-data-bot", training_data: FAQ_TRAIN, config: { ...SMALL, epochs: 4, seed: 3 } });
    expect((await waitForRun(started.body.run_id)).status).toBe("succeeded");
    const items: Record<string, unknown>[] = [];
    const truth = FAQ_TRAIN.filter((_, i) => i % 8 === 0);
    let corrected = 0;
    let confirmed = 0;
    let wrong = 0;
    for (const [i, e] of truth.entries()) {
      const r = await call<{ execution_id: string; output: string; fallback: boolean }>("executeAgent", { agent_id: "exec-data-bot", input: e.input });
      const right = r.body.output === e.expected_output;
      if (right && !r.body.fallback) confirmed++;
      if (!right && i % 2 === 0) corrected++;
      if (!right && i % 2 === 1) wrong++;
      items.push({ execution_id: r.body.execution_id, feedback: right ? "correct" : "incorrect", ...(!right && i % 2 === 0 && { correct_output: e.expected_output }) });
    }
    await call("executeAgent", { agent_id: "exec-data-bot", input: "an execution nobody judged" });
    expect((await call("submitFeedback", items)).status).toBe(200);
    const made = await call<{ dataset_id: string; examples: number; created: boolean; version: { version: number; lineage: { source: string; corrected: number; confirmed: number; executions: number; skipped: { wrong_without_correction: number } } } }>("createDatasetFromExecutions", {
      agent_id: "exec-data-bot",
      name: "from-traffic",
    });
    expect(made.status).toBe(201);
    expect(made.body.version.lineage).toMatchObject({ source: "executions", corrected, confirmed, executions: truth.length + 1, skipped: { wrong_without_correction: wrong } });
    expect(made.body.examples).toBeLessThanOrEqual(corrected + confirmed);
    expect(made.body.version.version).toBe(1);
    const same = await call<{ created: boolean; version: { version: number } }>("createDatasetFromExecutions", { agent_id: "exec-data-bot", name: "from-traffic" });
    expect(same.body).toMatchObject({ created: false, version: { version: 1 } });
    expect((await call("createDatasetFromExecutions", { agent_id: "exec-data-bot", name: "from-traffic", from: "not a date" })).status).toBe(400);
    expect((await call("createDatasetFromExecutions", { agent_id: "nobody", name: "x" })).status).toBe(404);
  });

  it("cleans at ingestion and records it; refuses bad encodings and truncated lines with their line number", async () => {
    expect(cleanText("  <p>Hello&nbsp;<b>world</b></p>\u0007 ")).toBe("Hello world");
    expect(cleanText("ｆｕｌｌ width")).toBe("full width");
    const rows = [...FAQ_TRAIN.slice(0, 40), { input: "<div>Where is <i>my</i> order?</div>", expected_output: FAQ_TRAIN[0].expected_output }];
    const up = await upload(jsonl(rows), "cleaned");
    expect(up.status).toBe(201);
    expect(up.body.preprocessing.changed.html).toBe(1);
    expect(up.body.version.lineage.preprocessing.changed.html).toBe(1);
    const stored = new TextDecoder().decode((await getBytes(env.DATASETS, `apps/default/datasets/${up.body.dataset_id}.jsonl`))!);
    expect(stored).toContain('"Where is my order?"');

    const bytes = new TextEncoder().encode(`${jsonl(FAQ_TRAIN.slice(0, 3))}\n`);
    const latin1 = new Uint8Array([...bytes, ...new TextEncoder().encode('{"input":"caf'), 0xe9, ...new TextEncoder().encode('","expected_output":"x"}')]);
    const res = await exports.default.fetch(new Request("http://archon.test/datasets?format=jsonl", { method: "POST", headers: { authorization: `Bearer ${env.API_KEY}` }, body: latin1 }));
    expect(res.status).toBe(400);
    const badEncoding = (await res.json()) as { error: { issues: { path: string; code: string }[] } };
    expect(badEncoding.error.issues[0]).toMatchObject({ path: "lines.4", code: "encoding" });
    const truncated = await upload(`${jsonl(FAQ_TRAIN.slice(0, 5))}\n{"input": "where is my`);
    expect(truncated.status).toBe(400);
    expect(truncated.body.error.issues[0]).toMatchObject({ path: "lines.6", message: "is not valid JSON" });
    const big = await upload("x".repeat(11 * 2 ** 20));
    expect(big.status).toBe(413);
  });
});
