/**
 * The hyperparameter search space of analyzeAndOptimize: the training levers
 * that move accuracy, latency and size (learning rate, epochs through the
 * halving, dim, hidden, dropout, label smoothing, ensemble size, word and
 * character n-grams, vocabulary size), sampled with a seeded generator as
 * partial `config` objects that trainAgent's schema resolves.
 */
import { MAX_EMBEDDING_FLOATS } from "../model/hyper.ts";
import { Rng } from "../model/rng.ts";

export interface SearchConfig {
  learning_rate: number;
  dim: number;
  hidden: number;
  dropout: number;
  label_smoothing: number;
  ensemble: number;
  features: { word_ngrams: number; char_min: number; char_max: number; max_rows: number };
}

export const SPACE = {
  learning_rate: [0.0007, 0.003] as const,
  dim: [32, 48, 64, 96, 128, 160],
  hidden: [32, 64, 96, 128, 192],
  dropout: [0, 0.1, 0.2, 0.3],
  label_smoothing: [0, 0.1, 0.2, 0.3],
  ensemble: [1, 1, 1, 2],
  word_ngrams: [1, 2, 2, 3],
  char: [
    [3, 3],
    [3, 4],
    [3, 5],
    [2, 4],
  ] as const,
  max_rows: [8_000, 12_000, 20_000, 30_000, 45_000],
};

const pick = <T>(xs: readonly T[], rng: Rng): T => xs[rng.int(xs.length)];

/** One configuration drawn from the space (log-uniform learning rate); vocabularies are capped so a version fits. */
export function sampleConfig(rng: Rng): SearchConfig {
  const [lo, hi] = SPACE.learning_rate;
  const dim = pick(SPACE.dim, rng);
  const [char_min, char_max] = pick(SPACE.char, rng);
  return {
    learning_rate: Number(Math.exp(Math.log(lo) + rng.next() * (Math.log(hi) - Math.log(lo))).toPrecision(3)),
    dim,
    hidden: pick(SPACE.hidden, rng),
    dropout: pick(SPACE.dropout, rng),
    label_smoothing: pick(SPACE.label_smoothing, rng),
    ensemble: pick(SPACE.ensemble, rng),
    features: { word_ngrams: pick(SPACE.word_ngrams, rng), char_min, char_max, max_rows: Math.min(pick(SPACE.max_rows, rng), Math.floor(MAX_EMBEDDING_FLOATS / dim)) },
  };
}

/** `n` distinct configurations. */
export function sampleConfigs(n: number, seed: number): SearchConfig[] {
  const rng = new Rng(seed, 0x5ea4);
  const seen = new Set<string>();
  const out: SearchConfig[] = [];
  for (let tries = 0; out.length < n && tries < n * 50; tries++) {
    const c = sampleConfig(rng);
    const key = JSON.stringify(c);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(c);
  }
  return out;
}

/**
 * Configurations that shrink the current one along the levers of size
 * (vocabulary rows, embedding dimension) or of speed (character n-grams,
 * word n-grams, widths), everything else kept — so that a candidate answers
 * much like the current version, which a held-out check can confirm far more
 * tightly than a configuration drawn from the whole space.
 */
export function shrinkLadder(goal: "size" | "latency", current: { dim: number; hidden: number; features: { max_rows: number; word_ngrams: number; char_min: number; char_max: number } }): Partial<SearchConfig>[] {
  const f = current.features;
  if (goal === "size") {
    const out: Partial<SearchConfig>[] = [];
    for (const rows of [0.6, 0.45, 0.35, 0.25].map((r) => Math.round((f.max_rows * r) / 500) * 500))
      for (const dim of [current.dim, Math.round((current.dim * 0.75) / 8) * 8]) out.push({ dim, features: { ...f, max_rows: rows } });
    return out;
  }
  return [
    { features: { ...f, char_max: f.char_min } },
    { features: { ...f, word_ngrams: 1 } },
    { features: { ...f, char_max: f.char_min, word_ngrams: 1 } },
    { hidden: Math.max(16, current.hidden / 2), dim: Math.max(16, current.dim / 2) },
    { hidden: Math.max(16, current.hidden / 2), dim: Math.max(16, current.dim / 2), features: { ...f, char_max: f.char_min } },
    { hidden: Math.max(16, current.hidden / 2), dim: Math.max(16, current.dim / 2), features: { ...f, char_max: f.char_min, max_rows: Math.round(f.max_rows / 2) } },
  ];
}
