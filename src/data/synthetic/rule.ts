/**
 * `rule` augmentation: label-preserving transformations of seed examples
 * (EDA, Wei & Zou 2019, and noise users make): synonym replacement from
 * WordNet (the `synonyms` package), random insertion of a synonym, random
 * swap, random deletion, keyboard typos, and casing. Each generated example
 * applies one or two of them to one seed example, seeded: the same seed, the
 * same examples.
 */
import dictionary from "synonyms/dictionary.js";
import { Rng } from "../../model/rng.ts";
import type { Example } from "../examples.ts";

/** Words never replaced, inserted or deleted: they carry the grammar, and WordNet's senses of them are rarely what a user meant. */
const STOPWORDS = new Set(
  "a an the i me my we our you your he she it they them this that these those is am are was were be been being have has had do does did can could will would should may might must to of in on at by for with from up down out over under again then once here there when where why how all any both each few more most other some such no nor not only own same so than too very just don t s and but if or because as until while about against between into through during before after above below".split(
    " ",
  ),
);

export const RULE_OPERATIONS = ["synonym", "insert", "swap", "delete", "typo", "casing"] as const;
export type RuleOperation = (typeof RULE_OPERATIONS)[number];

const KEYBOARD = ["qwertyuiop", "asdfghjkl", "zxcvbnm"];
const NEIGHBORS = new Map<string, string>();
KEYBOARD.forEach((row, r) =>
  [...row].forEach((ch, c) => {
    const near = [row[c - 1], row[c + 1], KEYBOARD[r - 1]?.[c], KEYBOARD[r + 1]?.[c]].filter((x): x is string => !!x);
    NEIGHBORS.set(ch, near.join(""));
  }),
);

/** Single-word synonyms of `word` (other than itself), over its parts of speech. */
export function synonymsOf(word: string): string[] {
  const entry = Object.hasOwn(dictionary, word) ? dictionary[word] : undefined;
  if (!entry) return [];
  const out = new Set<string>();
  for (const list of Object.values(entry)) for (const s of list ?? []) if (s !== word && /^[a-z]{3,}$/.test(s)) out.add(s);
  return [...out];
}

const content = (w: string) => /^[a-z]+$/i.test(w) && !STOPWORDS.has(w.toLowerCase());

function apply(op: RuleOperation, words: string[], rng: Rng): string[] {
  const idx = words.map((w, i) => (content(w) ? i : -1)).filter((i) => i >= 0);
  const out = [...words];
  switch (op) {
    case "synonym": {
      const options = idx.filter((i) => synonymsOf(words[i].toLowerCase()).length > 0);
      if (options.length === 0) return out;
      const n = Math.max(1, Math.round(options.length * 0.15));
      for (let k = 0; k < n; k++) {
        const i = options[rng.int(options.length)];
        const syn = synonymsOf(words[i].toLowerCase());
        out[i] = syn[rng.int(syn.length)];
      }
      return out;
    }
    case "insert": {
      const options = idx.filter((i) => synonymsOf(words[i].toLowerCase()).length > 0);
      if (options.length === 0) return out;
      const syn = synonymsOf(words[options[rng.int(options.length)]].toLowerCase());
      out.splice(rng.int(out.length + 1), 0, syn[rng.int(syn.length)]);
      return out;
    }
    case "swap": {
      if (out.length < 2) return out;
      const i = rng.int(out.length);
      const j = rng.int(out.length);
      [out[i], out[j]] = [out[j], out[i]];
      return out;
    }
    case "delete": {
      if (out.length < 4) return out;
      return out.filter(() => rng.next() >= 0.1);
    }
    case "typo": {
      if (idx.length === 0) return out;
      const i = idx[rng.int(idx.length)];
      const w = out[i];
      const p = rng.int(w.length);
      const near = NEIGHBORS.get(w[p].toLowerCase());
      const kind = rng.int(3);
      out[i] = kind === 0 && near ? w.slice(0, p) + near[rng.int(near.length)] + w.slice(p + 1) : kind === 1 && w.length > 3 ? w.slice(0, p) + w.slice(p + 1) : w.slice(0, p) + w[p] + w.slice(p);
      return out;
    }
    case "casing": {
      const r = rng.int(3);
      return r === 0 ? out.map((w) => w.toLowerCase()) : r === 1 ? out.map((w) => w.toUpperCase()) : out.map((w, i) => (i === 0 ? w[0].toUpperCase() + w.slice(1) : w));
    }
  }
}

/** `count` new examples from `seeds`, each one seed transformed by one or two operations (seeded). */
export function ruleAugment(seeds: readonly Example[], count: number, seed: number, operations: readonly RuleOperation[] = RULE_OPERATIONS): Example[] {
  const rng = new Rng(seed, 0xa06);
  const out: Example[] = [];
  for (let k = 0; k < count && seeds.length > 0; k++) {
    const base = seeds[k % seeds.length];
    let words = base.input.split(/\s+/).filter(Boolean);
    const steps = 1 + rng.int(2);
    for (let s = 0; s < steps; s++) words = apply(operations[rng.int(operations.length)], words, rng);
    const input = words.join(" ").trim();
    if (input) out.push({ input, expected_output: base.expected_output, synthetic: true });
  }
  return out;
}
