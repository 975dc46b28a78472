/** generateSyntheticData: templates, rule augmentation, adversarial search against the agent, the llm strategy through the AI SDK, and the validation step. */
import { env } from "cloudflare:workers";
import { MockLanguageModelV4 } from "ai/test";
import { beforeAll, describe, expect, it } from "vitest";
import { llmExamples } from "../../src/data/synthetic/llm.ts";
import { ruleAugment, synonymsOf } from "../../src/data/synthetic/rule.ts";
import { tokenize } from "../../src/model/features.ts";
import { call, FAQ_TRAIN, request, SMALL, waitForRun } from "../helpers.ts";
import { getBytes } from "../../src/storage/objects.ts";

interface Generated {
  dataset_id: string;
  examples: number;
  version: { name: string; version: number; lineage: { source: string; generation: Record<string, number> } };
  generation: { generated: number; kept: number; dropped: { duplicate: number; disagreement: number }; seeds_tried?: number; fooled?: number };
}

beforeAll(async () => {
  const up = await request<{ dataset_id: string }>("POST", "/datasets?format=jsonl&name=syn-faq", FAQ_TRAIN.map((e) => JSON.stringify(e)).join("\n"), env.API_KEY, { "content-type": "text/plain" });
  expect(up.status).toBe(201);
  const run = await call<{ run_id: string }>("trainAgent", { agent_id: "syn-bot", dataset_id: "syn-faq", config: { ...SMALL, epochs: 6, seed: 2 } });
  expect((await waitForRun(run.body.run_id)).status).toBe("succeeded");
}, 120_000);

describe("synthetic data", () => {
  it("rule augmentation keeps labels, is seeded, and uses WordNet synonyms", () => {
    expect(synonymsOf("buy")).toEqual(["purchase"]);
    expect(synonymsOf("cancel")).toEqual(expect.arrayContaining(["invalidate"]));
    const a = ruleAugment(FAQ_TRAIN.slice(0, 20), 60, 5);
    expect(a).toEqual(ruleAugment(FAQ_TRAIN.slice(0, 20), 60, 5));
    expect(a).toHaveLength(60);
    a.forEach((e, k) => expect(e.expected_output).toBe(FAQ_TRAIN[k % 20].expected_output));
    expect(a.every((e) => e.synthetic === true)).toBe(true);
    expect(a.filter((e, k) => tokenize(e.input).join(" ") !== tokenize(FAQ_TRAIN[k % 20].input).join(" ")).length).toBeGreaterThan(30);
  });

  it("templates and rules become the dataset's next version, validated, with the generation as lineage", async () => {
    const templates = [
      { template: "I want to {verb} my {object}", slots: { verb: ["cancel", "stop", "end"], object: ["subscription", "plan", "membership"] }, expected_output: "To cancel, open Settings → Billing." },
      { template: "how do I {verb} a {object}", slots: { verb: ["buy", "order", "get"], object: ["gift card", "voucher"] }, expected_output: "Gift cards are sold in the shop." },
    ];
    const t = await call<Generated>("generateSyntheticData", { dataset_id: "syn-faq", strategy: "template", templates, count: 12, seed: 3 });
    expect(t.status).toBe(201);
    expect(t.body.version).toMatchObject({ name: "syn-faq", version: 2, lineage: { source: "synthetic" } });
    expect(t.body.generation.generated).toBe(12);
    expect(t.body.examples).toBe(FAQ_TRAIN.length + t.body.generation.kept);
    const stored = new TextDecoder().decode((await getBytes(env.DATASETS, `apps/default/datasets/${t.body.dataset_id}.jsonl`))!);
    expect(stored).toContain('"synthetic":true');

    const r = await call<Generated>("generateSyntheticData", { agent_id: "syn-bot", dataset_id: "syn-faq", dataset_version: 1, strategy: "rule", count: 200, seed: 4, min_agreement: 0.2 });
    expect(r.status).toBe(201);
    expect(r.body.version.version).toBe(3);
    const g = r.body.generation;
    expect(g.generated).toBe(200);
    expect(g.kept + g.dropped.duplicate + g.dropped.disagreement).toBe(200);
    expect(g.dropped.duplicate).toBeGreaterThan(0); // casing-only edits are the same example
    expect(g.kept).toBeGreaterThan(50);
  });

  it("adversarial search finds label-keeping edits that flip the agent's answer", async () => {
    const r = await call<Generated>("generateSyntheticData", { agent_id: "syn-bot", dataset_id: "syn-faq", dataset_version: 1, name: "syn-adv", strategy: "adversarial", count: 20, seed: 1 });
    expect(r.status).toBe(201);
    expect(r.body.generation.fooled).toBeGreaterThan(0);
    const text = new TextDecoder().decode((await getBytes(env.DATASETS, `apps/default/datasets/${r.body.dataset_id}.jsonl`))!);
    const adv = text.trim().split("\n").map((l) => JSON.parse(l) as { input: string; expected_output: string; synthetic?: boolean }).filter((e) => e.synthetic);
    expect(adv.length).toBe(r.body.generation.kept);
    // Each one fools the live model: it answers something else than the label.
    for (const e of adv.slice(0, 5)) {
      const ex = await call<{ class: string }>("executeAgent", { agent_id: "syn-bot", input: e.input });
      expect(ex.body.class).not.toBe(e.expected_output);
    }
  });

  it("llm writes examples in a schema through the AI SDK; without a model it is a 400", async () => {
    const model = new MockLanguageModelV4({
      doGenerate: async () => ({
        content: [{ type: "text", text: JSON.stringify({ examples: [{ input: "can I pay with crypto", expected_output: "billing" }, { input: "hello", expected_output: "not a class" }] }) }],
        finishReason: { unified: "stop", raw: "stop" },
        usage: { inputTokens: { total: 10, noCache: 10, cacheRead: undefined, cacheWrite: undefined }, outputTokens: { total: 20, text: 20, reasoning: undefined } },
        warnings: [],
      }),
    });
    const out = await llmExamples(model, { scenario: "billing questions", classes: ["billing", "shipping"], seeds: [], count: 1 });
    expect(out).toEqual([{ input: "can I pay with crypto", expected_output: "billing", synthetic: true }]);
    const r = await call<{ error: { issues: { path: string; message: string }[] } }>("generateSyntheticData", { dataset_id: "syn-faq", strategy: "llm", scenario: "billing", count: 5 });
    expect(r.status).toBe(400);
    expect(r.body.error.issues[0].message).toContain("OPENAI_API_KEY");
    const missing = await call<{ error: { issues: { path: string }[] } }>("generateSyntheticData", { strategy: "adversarial", name: "x", count: 5 });
    expect(missing.status).toBe(400);
    expect(missing.body.error.issues.map((i) => i.path).sort()).toEqual(["agent_id", "dataset_id"]);
  });
});
