/** The training levers (resolved: the API fills defaults, src/training/config.ts) and what the engine trains on. */
import type { FeatureConfig } from "./features.ts";
import type { LayerName, Regularization } from "./network.ts";

export interface Example {
  input: string;
  expected_output: string;
}

export interface EarlyStopping {
  /** Epochs without improvement of validation accuracy before stopping. */
  patience: number;
  /** Smallest accuracy gain that counts as an improvement. */
  min_delta: number;
}

/** Every training lever, resolved (the API fills defaults). */
export interface Hyper extends Regularization {
  epochs: number;
  learning_rate: number;
  batch_size: number;
  seed: number;
  validation_split: number;
  weight_decay: number;
  /** Each class's output text also trains as an input of that class. */
  label_examples: boolean;
  embedding_optimizer: "adam" | "adagrad";
  /** Embedding rows start uniform in ±embedding_init/√dim. */
  embedding_init: number;
  embedding_lr_scale: number;
  lr_schedule: "constant" | "linear" | "cosine";
  warmup_fraction: number;
  early_stopping: EarlyStopping | null;
  /** The chosen epoch is the latest within this many standard errors of the top validation accuracy (0: the top one). */
  selection_tolerance: number;
  features: FeatureConfig;
  dim: number;
  hidden: number;
  /** Networks in the model's ensemble; "auto": 3 up to 2,000 training rows, 2 up to 4,000, else 1. */
  ensemble: number | "auto";
  /** Retrain on every row (validation too) after the validation phase; "auto": up to 2,000 training rows. */
  refit: boolean | "auto";
  /** Training examples per queue step (rounded up to whole batches). */
  examples_per_step: number;
  freeze_layers: LayerName[];
}

