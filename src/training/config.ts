/**
 * `config` of trainAgent: every training lever as a named option with a
 * tuned default. The resolved config (defaults filled, seed chosen) is what
 * a run stores and replays.
 */
import { z } from "zod";
import { LAYER_NAMES } from "../model/network.ts";
import type { Hyper } from "../model/hyper.ts";
import { MAX_EMBEDDING_FLOATS } from "../model/prepare.ts";

/** Defaults used by trainAgent (tuned on BANKING77, see bench/). */
export const DEFAULT_HYPER: Omit<Hyper, "seed"> = {
  epochs: 10,
  learning_rate: 0.002,
  batch_size: 16,
  validation_split: 0.1,
  dropout: 0.1,
  label_smoothing: 0.2,
  weight_decay: 0,
  label_examples: true,
  embedding_optimizer: "adagrad",
  embedding_init: 0.3,
  embedding_lr_scale: 5,
  lr_schedule: "linear",
  warmup_fraction: 0,
  early_stopping: { patience: 5, min_delta: 0 },
  selection_tolerance: 1,
  features: { buckets: 1 << 20, max_rows: 30_000, min_df: 1, word_ngrams: 2, char_min: 3, char_max: 4 },
  dim: 128,
  hidden: 128,
  ensemble: "auto",
  refit: "auto",
  examples_per_step: 50_000,
  freeze_layers: [],
};

const D = DEFAULT_HYPER;

export const EarlyStoppingSchema = z.union([
  z.boolean(),
  z
    .object({
      patience: z.number().int().min(1).max(100).default(D.early_stopping!.patience).describe("Epochs without improvement before stopping"),
      min_delta: z.number().min(0).max(1).default(D.early_stopping!.min_delta).describe("Smallest validation-accuracy gain that counts"),
    })
    .strict(),
]);

export const FeaturesSchema = z
  .object({
    buckets: z.number().int().min(1024).max(1 << 22).default(D.features.buckets).describe("Size of the hash space n-grams are hashed into"),
    max_rows: z.number().int().min(16).max(1 << 20).default(D.features.max_rows).describe("Vocabulary size cap: the most frequent training buckets become embedding rows"),
    min_df: z.number().int().min(1).max(1000).default(D.features.min_df).describe("Fewest training texts a bucket must occur in to enter the vocabulary"),
    word_ngrams: z.number().int().min(1).max(3).default(D.features.word_ngrams).describe("Largest word n-gram"),
    char_min: z.number().int().min(1).max(8).default(D.features.char_min).describe("Smallest character n-gram"),
    char_max: z.number().int().min(0).max(8).default(D.features.char_max).describe("Largest character n-gram (0: none)"),
  })
  .strict()
  .refine((f) => f.char_max === 0 || f.char_max >= f.char_min, { message: "char_max must be 0 or at least char_min", path: ["char_max"] });

export const TrainingConfigSchema = z
  .object({
    epochs: z.number().int().min(1).max(500).default(D.epochs).describe("Passes over the training split"),
    learning_rate: z.number().gt(0).max(1).default(D.learning_rate).describe("Adam step size"),
    validation_split: z.number().min(0).max(0.5).default(D.validation_split).describe("Held-out fraction (stratified, seeded)"),
    batch_size: z.number().int().min(1).max(1024).default(D.batch_size),
    seed: z.number().int().min(0).max(0xffffffff).optional().describe("Seed of initialization, split and shuffles; random when absent"),
    early_stopping: EarlyStoppingSchema.default(true).describe("true, false, or { patience, min_delta } on validation accuracy"),
    selection_tolerance: z
      .number()
      .min(0)
      .max(5)
      .default(D.selection_tolerance)
      .describe("The version takes the latest epoch within this many standard errors of the best validation accuracy (0: the best epoch)"),
    dropout: z.number().min(0).max(0.9).default(D.dropout),
    label_smoothing: z.number().min(0).max(0.5).default(D.label_smoothing),
    weight_decay: z.number().min(0).max(1).default(D.weight_decay),
    label_examples: z.boolean().default(D.label_examples).describe("Each class's output text also trains as an input of that class"),
    embedding_optimizer: z.enum(["adam", "adagrad"]).default(D.embedding_optimizer),
    embedding_init: z.number().min(0).max(10).default(D.embedding_init).describe("Embedding rows start uniform in ±embedding_init/√dim"),
    embedding_lr_scale: z.number().gt(0).max(1000).default(D.embedding_lr_scale).describe("Step size of the embedding rows relative to learning_rate (adagrad)"),
    lr_schedule: z.enum(["constant", "linear", "cosine"]).default(D.lr_schedule),
    warmup_fraction: z.number().min(0).max(0.5).default(D.warmup_fraction),
    features: FeaturesSchema.default(D.features),
    dim: z.number().int().min(4).max(512).default(D.dim).describe("Embedding dimension"),
    hidden: z.number().int().min(4).max(1024).default(D.hidden).describe("Width of early_layers and late_layers"),
    ensemble: z
      .union([z.literal("auto"), z.number().int().min(1).max(5)])
      .default(D.ensemble)
      .describe('Networks averaged in the model; "auto": 3 up to 2,000 training rows, 2 up to 4,000, else 1'),
    refit: z
      .union([z.literal("auto"), z.boolean()])
      .default(D.refit)
      .describe('After the validation phase, retrain on every row for the chosen number of epochs; "auto": up to 2,000 training rows'),
    examples_per_step: z.number().int().min(1).max(1_000_000).default(D.examples_per_step).describe("Training examples per queue step: a slice of an epoch, or whole epochs when an epoch is smaller"),
    freeze_layers: z.array(z.enum(LAYER_NAMES)).max(4).default([]).describe("Layers whose weights stay fixed"),
  })
  .strict()
  .refine((c) => c.dim * c.features.max_rows <= MAX_EMBEDDING_FLOATS, {
    message: `dim × features.max_rows must be at most ${MAX_EMBEDDING_FLOATS.toLocaleString("en-US")} (15 MB of embeddings, which ensemble members share: a version stays under 16 MB)`,
    path: ["dim"],
  });

/** Fills the seed and normalizes early_stopping into the engine's Hyper. */
export function resolveHyper(cfg: z.output<typeof TrainingConfigSchema>, randomSeed: () => number): Hyper {
  const { early_stopping, seed, ...rest } = cfg;
  return {
    ...rest,
    seed: seed ?? randomSeed(),
    early_stopping: early_stopping === true ? D.early_stopping : early_stopping === false ? null : early_stopping,
  };
}
