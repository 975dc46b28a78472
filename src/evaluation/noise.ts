/**
 * Seeded perturbations of an input (testAgent's `robustness`): typos (a
 * character swapped with its neighbour, dropped or doubled), casing, and word
 * order (two neighbouring words swapped). Each case gets its own stream of
 * the seed, so a suite's noisy copy is the same however it is split.
 */
import { Rng } from "../model/rng.ts";

export const NOISE_KINDS = ["typos", "casing", "word_order"] as const;
export type NoiseKind = (typeof NOISE_KINDS)[number];

function typo(word: string, rng: Rng): string {
  if (word.length < 3) return word;
  const i = 1 + rng.int(word.length - 2);
  switch (rng.int(3)) {
    case 0:
      return word.slice(0, i) + word[i + 1] + word[i] + word.slice(i + 2);
    case 1:
      return word.slice(0, i) + word.slice(i + 1);
    default:
      return word.slice(0, i) + word[i] + word.slice(i);
  }
}

/** `input` with every kind of noise applied once per ~4 words (at least once), seeded by (seed, case index). */
export function perturb(input: string, seed: number, index: number, kinds: readonly NoiseKind[] = NOISE_KINDS): string {
  const rng = new Rng(seed, 0x7000 + index);
  let words = input.split(/\s+/).filter(Boolean);
  const times = Math.max(1, Math.round(words.length / 4));
  for (const kind of kinds) {
    for (let t = 0; t < times; t++) {
      if (words.length === 0) break;
      const w = rng.int(words.length);
      if (kind === "typos") words[w] = typo(words[w], rng);
      else if (kind === "casing") words[w] = rng.next() < 0.5 ? words[w].toUpperCase() : words[w].toLowerCase();
      else if (words.length > 1) {
        const j = w === words.length - 1 ? w - 1 : w;
        words = [...words.slice(0, j), words[j + 1], words[j], ...words.slice(j + 2)];
      }
    }
  }
  return words.join(" ");
}
