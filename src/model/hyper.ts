/**
 * The training levers: the schema of trainAgent's `config` (every lever a
 * named option with a tuned default, validated with the reason in each
 * message), and the resolved levers the engine trains with (`Hyper`: defaults
 * filled, seed chosen; what a run stores and replays). Also the engine's
 * training example. Types derive from the schemas.
 */
import { QualityGateSchema } from "./quality-gate.ts";
import type { AnswererSettings } from "../llm/answerer.ts";
import { z } from "zod";
import { FeaturesSchema } from "./features.ts";
import { LAYER_NAMES } from "./network.ts";

/** Embedding floats a model may hold over all its members (30,000 rows × 128: a version stays under 16 MB). */
export const MAX_EMBEDDING_FLOATS = 3_840_000;

/** Batches a shard trains between two averagings, by default (chosen on validation splits: bench/run.ts --workers). */
export const DEFAULT_SYNC_EVERY = 256;

/** Longest input and expected output of a training example (characters). */
export const EXAMPLE_TEXT_LIMITS = { input: 2_000, expected_output: 4_000 } as const;

const nonEmpty = (field: string, max: number) =>
  z
    .string({ error: (i) => (i.input === undefined ? `${field} is required` : `${field} must be a string`) })
    .trim()
    .min(1, `${field} must not be empty`)
    .max(max, `${field} must be at most ${max} characters`);

/** What the engine trains on: an input and the output expected for it (its class). */
export const TextExampleSchema = z.object({
  input: nonEmpty("input", EXAMPLE_TEXT_LIMITS.input),
  expected_output: nonEmpty("expected_output", EXAMPLE_TEXT_LIMITS.expected_output),
  synthetic: z.literal(true).optional().describe("Generated (generateSyntheticData): it trains, and never validates"),
});
export type Example = z.output<typeof TextExampleSchema>;

// Defaults (in the schema, one place) are tuned on BANKING77: see bench/ and the README.

const EarlyStoppingObject = z
  .object({
    patience: z.number().int().min(1).max(100).default(5).describe("Epochs without improvement before stopping"),
    min_delta: z.number().min(0).max(1).default(0).describe("Smallest validation-accuracy gain that counts"),
  })
  .strict();

/** Shards a distributed run may have. */
export const MAX_WORKERS = 16;

const DistributedSchema = z
  .object({
    workers: z
      .union([z.literal("auto"), z.number().int().min(1).max(MAX_WORKERS)], { error: () => `workers must be "auto" or a whole number from 1 to ${MAX_WORKERS}` })
      .describe('Shards training each round in parallel (queue messages); "auto": one per 2,000 training rows, at most 8 (1: a single chain)'),
    sync_every: z.number().int().min(1).max(100_000).default(DEFAULT_SYNC_EVERY).describe("Batches each shard trains between two averagings of the shards' weights (a round)"),
  })
  .strict();

export const EarlyStoppingSchema = z.union([z.boolean(), EarlyStoppingObject]);

export const TrainingConfigSchema = z
  .object({
    epochs: z.number().int().min(1).max(500).default(10).describe("Passes over the training split"),
    learning_rate: z.number().gt(0).max(1).default(0.002).describe("Adam step size"),
    validation_split: z.number().min(0).max(0.5).default(0.1).describe("Held-out fraction (stratified, seeded)"),
    batch_size: z.number().int().min(1).max(1024).default(16),
    seed: z.number().int().min(0).max(0xffffffff).optional().describe("Seed of initialization, split and shuffles; random when absent"),
    early_stopping: EarlyStoppingSchema.default(true).describe("true, false, or { patience, min_delta } on validation accuracy"),
    selection_tolerance: z
      .number()
      .min(0)
      .max(5)
      .default(1)
      .describe("The version takes the latest epoch within this many standard errors of the best validation accuracy (0: the best epoch)"),
    dropout: z.number().min(0).max(0.9).default(0.1),
    label_smoothing: z.number().min(0).max(0.5).default(0.2),
    weight_decay: z.number().min(0).max(1).default(0),
    label_examples: z.boolean().default(true).describe("Each class's output text also trains as an input of that class"),
    embedding_optimizer: z.enum(["adam", "adagrad"]).default("adagrad"),
    embedding_init: z.number().min(0).max(10).default(0.3).describe("Embedding rows start uniform in ±embedding_init/√dim"),
    embedding_lr_scale: z.number().gt(0).max(1000).default(5).describe("Step size of the embedding rows relative to learning_rate (adagrad)"),
    lr_schedule: z.enum(["constant", "linear", "cosine"]).default("linear"),
    warmup_fraction: z.number().min(0).max(0.5).default(0),
    features: FeaturesSchema.prefault({}),
    base_model: z
      .enum(["none", "glove-en"], { error: () => "base_model must be 'none' or 'glove-en'" })
      .default("none")
      .describe("glove-en: the built-in base's word vectors start the embedding rows of the words they know, and its frequent words join the vocabulary up to max_rows"),
    base_scale: z.number().gt(0).max(10).default(0.5).describe("Length of a base word's vector in its embedding row (base_model)"),
    prototype_weight: z
      .number()
      .min(0)
      .max(1)
      .default(0)
      .describe("Share of the class-prototype head (cosine to each class's mean in the semantic embedder's space) in every answer; few_shot sets it"),
    prototype_temperature: z.number().gt(0).max(10).default(0.05).describe("Softmax temperature of the prototype head over cosine similarities"),
    dim: z.number().int().min(4).max(512).default(128).describe("Embedding dimension"),
    hidden: z.number().int().min(4).max(1024).default(128).describe("Width of early_layers and late_layers"),
    ensemble: z
      .union([z.literal("auto"), z.number().int().min(1).max(5)])
      .default("auto")
      .describe('Networks averaged in the model; "auto": 3 up to 2,000 training rows, 2 up to 4,000, else 1'),
    refit: z
      .union([z.literal("auto"), z.boolean()])
      .default("auto")
      .describe('After the validation phase, retrain on every row for the chosen number of epochs; "auto": up to 2,000 training rows'),
    distributed: DistributedSchema.optional().describe(
      "Distributed training (local SGD): each round, `workers` shards train their share of the round's batches from the same weights in parallel, and an aggregator averages them",
    ),
    examples_per_step: z.number().int().min(1).max(1_000_000).default(50_000).describe("Training examples per queue step: a slice of an epoch, or whole epochs when an epoch is smaller"),
    freeze_layers: z.array(z.enum(LAYER_NAMES)).max(4).default([]).describe("Layers whose weights stay fixed"),
    fine_tune_layers: z
      .array(z.enum(LAYER_NAMES))
      .max(4)
      .optional()
      .describe("transfer: the layers that train; every other layer is frozen (with freeze_layers, the union is frozen)"),
    base_agent_id: z.string().min(1).max(128).optional().describe("transfer: the agent whose live version to start from (same app), or 'base:glove-en'"),
    leverage_base_model: z.boolean().default(true).describe("few_shot: use the built-in base (class prototypes in its embedding space mixed with the network)"),
    use_prompt_engineering: z
      .boolean()
      .default(false)
      .describe("few_shot: build instructions and demos for a language model (only with one configured; offline it is reported as not used)"),
    quality_gate: QualityGateSchema.prefault({}).describe("The data quality gate: below min_score, or with any of reject_codes, trainAgent answers 422 with the report and trains nothing"),
    version_precision: z
      .enum(["float16", "int8"])
      .default("float16")
      .describe("How the version stores its weights: float16 embedding tables (default), or every weight matrix as int8 with a scale per row (about half the bytes again; measure it with testAgent)"),
  })
  .strict()
  .refine((c) => c.dim * c.features.max_rows <= MAX_EMBEDDING_FLOATS, {
    message: `dim × features.max_rows must be at most ${MAX_EMBEDDING_FLOATS.toLocaleString("en-US")} (15 MB of embeddings, which ensemble members share: a version stays under 16 MB)`,
    path: ["dim"],
  });

/** Fills the seed and normalizes early_stopping into the engine's Hyper. */
export function resolveHyper(cfg: TrainingConfig, randomSeed: () => number): Hyper {
  const { early_stopping, seed, ...rest } = cfg;
  return {
    ...rest,
    seed: seed ?? randomSeed(),
    early_stopping: early_stopping === true ? EarlyStoppingObject.parse({}) : early_stopping === false ? null : early_stopping,
  };
}

export type TrainingConfig = z.output<typeof TrainingConfigSchema>;
export type EarlyStopping = z.output<typeof EarlyStoppingObject>;

/** Every training lever, resolved: the config with its seed chosen and early stopping as settings or none. */
export type Hyper = Omit<TrainingConfig, "seed" | "early_stopping"> & {
  seed: number;
  early_stopping: EarlyStopping | null;
  /** A transfer run's base: the version whose weights it starts from (set by trainAgent, never by a client). */
  transfer?: TransferSource;
  /** few_shot with use_prompt_engineering on a language-model agent: the answerer whose demos the final step bootstraps (set by trainAgent). */
  prompt_engineering?: { answerer: AnswererSettings };
  /** The answerer the new version keeps (set by analyzeAndOptimize when a new network wins for a language-model agent, never by a client). */
  answerer?: AnswererSettings;
};

/** The version a transfer starts from. */
export interface TransferSource {
  agent_id: string;
  version_id: string;
  version: number;
  checkpoint_key: string;
  /** Its weights' SHA-256 (checked when the step reads them); absent in runs from before it was recorded. */
  weights_sha256?: string | null;
}

/** The resolved defaults: what an empty config gives (bar the seed). */
export const DEFAULT_HYPER: Omit<Hyper, "seed"> = (() => {
  const { seed: _, ...defaults } = resolveHyper(TrainingConfigSchema.parse({}), () => 0);
  return defaults;
})();
