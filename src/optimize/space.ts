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
