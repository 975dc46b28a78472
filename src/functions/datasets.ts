/** createDatasetFromExecutions and generateSyntheticData: dataset versions from an agent's executions, and generated ones (src/data). */
import { z } from "zod";
import { buildDataset, loadExamples, saveDataset } from "../data/datasets.ts";
import { checkStoredBytes } from "../security/quotas.ts";
import type { Example } from "../data/examples.ts";
import { DatasetRefSchema } from "../data/names.ts";
import { resolveDatasetRef } from "../data/versions.ts";
import { expandTemplates, TemplateSchema } from "../data/synthetic/template.ts";
import { ruleAugment, RULE_OPERATIONS } from "../data/synthetic/rule.ts";
import { adversarialExamples } from "../data/synthetic/adversarial.ts";
import { llmExamples } from "../data/synthetic/llm.ts";
import { chatModel, providerFor } from "../llm/provider.ts";
import { validateGenerated } from "../data/synthetic/validate.ts";
import { invalidInput } from "../errors.ts";
import { loadModel, resolveVersion } from "../agent/versions.ts";

const SYNTHETIC_STRATEGIES = ["template", "rule", "llm", "adversarial"] as const;
import { examplesFromExecutions } from "../data/from-executions.ts";
import { addVersion, versionView } from "../data/versions.ts";
import { DatasetNameSchema } from "../data/names.ts";
import { conflict } from "../errors.ts";
import { requestSlicer } from "../isolate/slices.ts";
import { readPolicy } from "../pii/policy.ts";
import { findAgent } from "../agent/versions.ts";
import { AgentIdSchema } from "./common.ts";
import { defineFunction } from "./registry.ts";

const Instant = z.union([z.number().int().min(0), z.iso.datetime({ offset: true }).transform((s) => Date.parse(s))], { error: () => "must be epoch milliseconds or an ISO 8601 date-time" });

export const createDatasetFromExecutions = defineFunction({
  name: "createDatasetFromExecutions",
  summary: "Make a dataset version from an agent's executions and their feedback",
  description:
    "Each execution in [from, to] becomes an example: input → the correction when feedback gave one, else its answer when feedback said it was right; " +
    "answers judged wrong without a correction, and fallback answers, are left out. only_with_feedback (default true) leaves out executions nobody judged. " +
    "The examples go through the same cleaning, PII policy and quality report as an upload, and become the next version of `name`, with the executions as its lineage.",
  input: z
    .object({
      agent_id: AgentIdSchema,
      name: DatasetNameSchema,
      from: Instant.optional(),
      to: Instant.optional(),
      only_with_feedback: z.boolean().default(true),
    })
    .strict(),
  output: z.object({
    dataset_id: z.string(),
    examples: z.number().int(),
    classes: z.number().int(),
    created: z.boolean(),
    version: z.record(z.string(), z.unknown()),
    quality: z.object({ score: z.number(), counts: z.record(z.string(), z.number()) }),
  }),
  status: 201,
  async handler(ctx, input) {
    const agent = await findAgent(ctx.db, ctx.appId, input.agent_id);
    const { examples, lineage } = await examplesFromExecutions(ctx.db, ctx.appId, agent.id, { from: input.from, to: input.to, onlyWithFeedback: input.only_with_feedback });
    if (new Set(examples.map((e) => e.expected_output)).size < 2)
      throw conflict("not_enough_examples", `the executions of agent '${agent.id}' give ${examples.length} labeled example(s) with ${new Set(examples.map((e) => e.expected_output)).size} distinct output(s); a dataset needs at least 2 outputs: give feedback (corrections, or confirmations of right answers) first`, { lineage });
    const pending = await buildDataset(ctx.appId, examples, "inline", "executions", { scrubber: await readPolicy(ctx.db, ctx.appId), slicer: requestSlicer() });
    await checkStoredBytes(ctx.db, ctx.appId, pending.row, ctx.quotas);
    await saveDataset(ctx.db, ctx.env.DATASETS, pending);
    const named = await addVersion(ctx.db, ctx.appId, input.name, pending.row.id, { source: "executions", ...lineage, preprocessing: pending.preprocessing, pii: pending.pii }, ctx.now());
    return {
      dataset_id: pending.row.id,
      examples: pending.report.examples,
      classes: pending.report.classes,
      created: named.created,
      version: versionView(named.version),
      quality: { score: pending.quality.score, counts: pending.quality.counts },
    };
  },
});

export const generateSyntheticData = defineFunction({
  name: "generateSyntheticData",
  summary: "Generate training data: templates, rule-based augmentation, a language model, or adversarial examples",
  description:
    "strategy: template (slot grammars in `templates`), rule (label-preserving edits of the dataset's examples: WordNet synonyms, insertion, swap, deletion, " +
    "keyboard typos, casing), llm (a language model through the AI SDK, for `scenario`; needs OPENAI_API_KEY), adversarial (edits searched against the agent's " +
    "live model that keep the label and flip its answer). Generated examples are de-duplicated against the dataset, scored by the agent's model (its " +
    "probability of the label; below min_agreement dropped, adversarial exempt) and added to the dataset as its next version under `name` (marked synthetic: " +
    "they train and never validate), with the generation as lineage.",
  input: z
    .object({
      agent_id: AgentIdSchema.optional(),
      dataset_id: DatasetRefSchema.optional(),
      dataset_version: z.number().int().min(1).optional(),
      name: DatasetNameSchema.optional().describe("The dataset the result is a version of (default: dataset_id's name)"),
      strategy: z.enum(SYNTHETIC_STRATEGIES, { error: () => `strategy must be one of ${SYNTHETIC_STRATEGIES.join(", ")}` }),
      count: z.number().int().min(1).max(5000),
      seed: z.number().int().min(0).max(0xffffffff).default(1),
      scenario: z.string().min(1).max(2000).optional(),
      templates: z.array(TemplateSchema).min(1).max(100).optional(),
      operations: z.array(z.enum(RULE_OPERATIONS)).min(1).optional(),
      min_agreement: z.number().min(0).max(1).default(0.3),
    })
    .strict()
    .superRefine((v, ctx) => {
      const need = (field: keyof typeof v, why: string) => v[field] === undefined && ctx.addIssue({ code: "custom", path: [field], message: why });
      if (v.strategy === "template") need("templates", "strategy template needs templates");
      if (v.strategy === "rule") need("dataset_id", "strategy rule transforms the examples of dataset_id");
      if (v.strategy === "adversarial") {
        need("dataset_id", "strategy adversarial perturbs the examples of dataset_id");
        need("agent_id", "strategy adversarial searches against agent_id's live model");
      }
      if (v.strategy === "llm") need("scenario", "strategy llm writes examples for a scenario");
      if (v.name === undefined && (v.dataset_id === undefined || v.dataset_id.startsWith("ds_"))) ctx.addIssue({ code: "custom", path: ["name"], message: "name the dataset the result is a version of (dataset_id is not a name)" });
    }),
  output: z.object({
    dataset_id: z.string(),
    examples: z.number().int(),
    created: z.boolean(),
    version: z.record(z.string(), z.unknown()),
    generation: z.record(z.string(), z.unknown()),
    quality: z.object({ score: z.number(), counts: z.record(z.string(), z.number()) }),
  }),
  status: 201,
  async handler(ctx, input) {
    const source = input.dataset_id ? await resolveDatasetRef(ctx.db, ctx.appId, input.dataset_id, input.dataset_version, "dataset_id") : null;
    const seeds = source ? await loadExamples(ctx.env.DATASETS, ctx.appId, source.row.id) : [];
    const model = input.agent_id ? (await loadModel(ctx.env.CHECKPOINTS, await resolveVersion(ctx.db, await findAgent(ctx.db, ctx.appId, input.agent_id)))).model : null;
    const slicer = requestSlicer();
    let generated: Example[];
    let searched: Record<string, unknown> = {};
    if (input.strategy === "template") generated = expandTemplates(input.templates!, input.count, input.seed);
    else if (input.strategy === "rule") generated = ruleAugment(seeds, input.count, input.seed, input.operations);
    else if (input.strategy === "adversarial") {
      const r = await slicer.run(adversarialExamples(model!, seeds, input.count, input.seed));
      generated = r.examples;
      searched = { seeds_tried: r.tried, seeds_right: r.correct, fooled: r.examples.length };
    } else {
      // The app's language model (setLLMCredentials), else the deployment's (OPENAI_API_KEY).
      const provider = await providerFor(ctx.db, ctx.env, ctx.appId);
      if (!provider) throw invalidInput([{ path: "strategy", message: "strategy llm needs a language model: set the app's with setLLMCredentials (or OPENAI_API_KEY for the Worker; LLM_MODEL names the model)" }]);
      const lm = chatModel(provider, ctx.env.LLM_MODEL ?? "gpt-4o-mini");
      const classes = [...new Set([...seeds.map((e) => e.expected_output), ...(model?.classes ?? [])])];
      if (classes.length === 0) throw invalidInput([{ path: "dataset_id", message: "strategy llm labels with the classes of dataset_id or of agent_id's model: give one" }]);
      generated = await llmExamples(lm, { scenario: input.scenario!, classes, seeds, count: input.count });
    }
    const { kept, report } = validateGenerated(generated, seeds, model, input.strategy === "adversarial" ? null : input.min_agreement);
    const pending = await buildDataset(ctx.appId, [...seeds, ...kept], "inline", "generated", { scrubber: await readPolicy(ctx.db, ctx.appId), slicer });
    await checkStoredBytes(ctx.db, ctx.appId, pending.row, ctx.quotas);
    await saveDataset(ctx.db, ctx.env.DATASETS, pending);
    const generation = { strategy: input.strategy, seed: input.seed, count: input.count, ...searched, ...report };
    const name = input.name ?? source!.named!.name;
    const named = await addVersion(ctx.db, ctx.appId, name, pending.row.id, { source: "synthetic", from_dataset_id: source?.row.id ?? null, agent_id: input.agent_id ?? null, generation, preprocessing: pending.preprocessing, pii: pending.pii }, ctx.now());
    return { dataset_id: pending.row.id, examples: pending.report.examples, created: named.created, version: versionView(named.version), generation, quality: { score: pending.quality.score, counts: pending.quality.counts } };
  },
});
