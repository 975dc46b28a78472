/** The seed's training paradigms: few_shot and transfer (src/training/paradigms.ts, src/model/transfer.ts). */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import faq from "../../examples/support-faq.json";
import { decodeModel, type AgentModel } from "../../src/model/model.ts";
import { sha256Hex } from "../../src/storage/hash.ts";
import { call, SMALL, waitForRun } from "../helpers.ts";
import { getBytes } from "../../src/storage/objects.ts";

const intents = faq.intents;
const examplesOf = (from: number, to: number, perClass = 99) => intents.slice(from, to).flatMap((i) => i.train.slice(0, perClass).map((input) => ({ input, expected_output: i.answer })));

async function versionModel(runId: string): Promise<AgentModel> {
  const row = (await env.DB.prepare("SELECT checkpoint_key FROM agent_versions WHERE run_id = ?").bind(runId).first<{ checkpoint_key: string }>())!;
  return decodeModel((await getBytes(env.CHECKPOINTS, row.checkpoint_key))!);
}

const bytesOf = (t: Float32Array) => Buffer.from(t.buffer, t.byteOffset, t.byteLength);

interface Started {
  run_id: string;
  config: Record<string, unknown>;
  paradigm: { training_type: string; notes: string[]; base?: Record<string, unknown> };
}

describe("training paradigms", () => {
  it("few_shot trains from one example per class, with the base's class prototypes in every answer", async () => {
    const data = examplesOf(0, intents.length, 1);
    const started = await call<Started>("trainAgent", { agent_id: "fs-one", training_type: "few_shot", training_data: data, config: { ...SMALL, seed: 3, use_prompt_engineering: true } });
    expect(started.status).toBe(202);
    expect(started.body.config.prototype_weight).toBe(0.5);
    expect(started.body.paradigm.notes.join(" ")).toContain("use_prompt_engineering was not used");
    expect((await waitForRun(started.body.run_id)).status).toBe("succeeded");
    const model = await versionModel(started.body.run_id);
    expect(model.prototypes?.weight).toBe(0.5);
    expect(model.prototypes?.vectors.length).toBe(model.classes.length * 384);
    // Every training example is answered with its own class.
    let right = 0;
    for (const e of data) {
      const r = await call<{ output: string }>("executeAgent", { agent_id: "fs-one", input: e.input });
      if (r.body.output === e.expected_output) right++;
    }
    expect(right / data.length).toBeGreaterThan(0.9);
  });

  it("few_shot refuses more than 20 examples of a class, naming the field", async () => {
    const many = Array.from({ length: 21 }, (_, i) => ({ input: `question number ${i} about refunds`, expected_output: "refunds" }));
    const r = await call<{ error: { issues: { path: string; message: string }[] } }>("trainAgent", {
      agent_id: "fs-many",
      training_type: "few_shot",
      training_data: [...many, { input: "where is my card", expected_output: "cards" }],
      config: { quality_gate: { min_score: 0 } },
    });
    expect(r.status).toBe(400);
    expect(r.body.error.issues[0].path).toBe("training_data");
    expect(r.body.error.issues[0].message).toContain("supervised");
    expect((await call("trainAgent", { agent_id: "x", training_type: "meta", training_data: examplesOf(0, 2) })).status).toBe(400);
  });

  it("transfer keeps frozen layers byte-identical, keeps shared classes, adds new ones and drops vanished ones", async () => {
    const base = await call<Started>("trainAgent", { agent_id: "tr-base", training_data: examplesOf(0, 6), config: { ...SMALL, epochs: 4, seed: 5 } });
    expect((await waitForRun(base.body.run_id)).status).toBe("succeeded");
    const baseModel = await versionModel(base.body.run_id);

    // Classes 3–5 shared, 6–8 new, 0–2 vanish.
    const data = examplesOf(3, 9, 4);
    const started = await call<Started>("trainAgent", {
      agent_id: "tr-child",
      training_type: "transfer",
      training_data: data,
      config: { base_agent_id: "tr-base", freeze_layers: ["embedding", "early_layers"], epochs: 3, seed: 6 },
    });
    expect(started.status).toBe(202);
    expect(started.body.paradigm.base).toEqual({ agent_id: "tr-base", version: 1 });
    expect(started.body.config.dim).toBe(SMALL.dim);
    expect((await waitForRun(started.body.run_id)).status).toBe("succeeded");
    const child = await versionModel(started.body.run_id);

    expect(child.classes.sort()).toEqual([...new Set(data.map((e) => e.expected_output))].sort());
    expect(Array.from(child.vocab)).toEqual(Array.from(baseModel.vocab));
    for (const name of Object.keys(baseModel.params).filter((n) => /\/(embedding|early_layers)\./.test(n))) {
      expect(bytesOf(child.params[name]).equals(bytesOf(baseModel.params[name])), name).toBe(true);
    }
    expect(bytesOf(child.params["m0/late_layers.weight"]).equals(bytesOf(baseModel.params["m0/late_layers.weight"]))).toBe(false);

    // The base's demos of the shared classes come along, none of the vanished ones.
    const carried = await env.DB.prepare("SELECT content FROM agent_memories WHERE agent_id = 'tr-child' AND tags LIKE '%transferred%'").all<{ content: string }>();
    const outputs = new Set(carried.results.map((r) => (JSON.parse(r.content) as { expected_output: string }).expected_output));
    expect([...outputs].sort()).toEqual(intents.slice(3, 6).map((i) => i.answer).sort());

    // fine_tune_layers: everything else is frozen.
    const tuned = await call<Started>("trainAgent", { agent_id: "tr-tuned", training_type: "transfer", training_data: data, config: { base_agent_id: "tr-base", fine_tune_layers: ["output"], epochs: 1, seed: 7 } });
    expect(tuned.body.config.freeze_layers).toEqual(["embedding", "early_layers", "late_layers"]);
    expect((await waitForRun(tuned.body.run_id)).status).toBe("succeeded");
  });

  it("transfer from base:glove-en starts the embedding from the base; a base of another app is not found", async () => {
    const started = await call<Started>("trainAgent", { agent_id: "tr-glove", training_type: "transfer", training_data: examplesOf(0, 4), config: { ...SMALL, base_agent_id: "base:glove-en", epochs: 2, seed: 8 } });
    expect(started.status).toBe(202);
    expect(started.body.config.base_model).toBe("glove-en");
    expect((await waitForRun(started.body.run_id)).status).toBe("succeeded");

    const OTHER = "paradigms-other-app";
    await env.DB.prepare("INSERT INTO api_keys (key_hash, app_id) VALUES (?, 'paradigms-other')").bind(await sha256Hex(new TextEncoder().encode(OTHER))).run();
    const foreign = await call("trainAgent", { agent_id: "tr-foreign", training_type: "transfer", training_data: examplesOf(0, 4), config: { base_agent_id: "tr-glove" } }, OTHER);
    expect(foreign.status).toBe(404);
    const missing = await call<{ error: { issues: { path: string }[] } }>("trainAgent", { agent_id: "tr-x", training_type: "transfer", training_data: examplesOf(0, 4) });
    expect(missing.status).toBe(400);
    expect(missing.body.error.issues[0].path).toBe("config.base_agent_id");
    expect((await call("trainAgent", { agent_id: "tr-y", training_data: examplesOf(0, 4), config: { base_agent_id: "tr-glove" } })).status).toBe(400);
  });
});
