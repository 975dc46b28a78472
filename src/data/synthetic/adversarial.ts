/**
 * `adversarial` generation: perturbations searched against the agent's
 * current model. From an example the model gets right, a greedy search makes
 * at most MAX_EDITS word or character edits — a keyboard typo, a dropped or
 * doubled letter, a word deleted, a WordNet synonym — each time the one that
 * lowers the probability of the true label most, until the model's answer
 * flips. The edits keep the label (typos and synonyms do not change what a
 * user asks), so the example that fooled the model, with its true label, is
 * what robustness tests and adversarial training need.
 */
import { predict, type AgentModel } from "../../model/model.ts";
import { Ensemble } from "../../model/ensemble.ts";
import { Rng } from "../../model/rng.ts";
import type { Work } from "../../model/work.ts";
import type { Example } from "../examples.ts";
import { synonymsOf } from "./rule.ts";

export const MAX_EDITS = 3;
const NEAR: Record<string, string> = { q: "wa", w: "qes", e: "wrd", r: "etf", t: "ryg", y: "tuh", u: "yij", i: "uok", o: "ipl", p: "o", a: "qsz", s: "adwx", d: "sfec", f: "dgrv", g: "fhtb", h: "gjyn", j: "hkum", k: "jli", l: "ko", z: "ax", x: "zcs", c: "xvd", v: "cbf", b: "vng", n: "bmh", m: "nj" };

/** Which edits the search may make: characters only (typos, dropped and doubled letters), or words too (dropped, replaced by synonyms). */
export type EditKinds = "characters" | "all";

/** The edits of one word: typos (one per position, seeded), deletion of a letter, doubling; with words, the word dropped and synonyms. */
function variants(word: string, rng: Rng, kinds: EditKinds): string[] {
  const out: string[] = kinds === "all" ? [""] : [];
  const lower = word.toLowerCase();
  if (word.length > 2) {
    const p = 1 + rng.int(word.length - 1);
    const near = NEAR[lower[p]];
    if (near) out.push(word.slice(0, p) + near[rng.int(near.length)] + word.slice(p + 1));
    out.push(word.slice(0, p) + word.slice(p + 1));
    out.push(word.slice(0, p) + word[p] + word.slice(p));
  }
  if (kinds === "all") out.push(...synonymsOf(lower).slice(0, 3));
  return out;
}

/** Adversarial examples from `seeds` (at most `count`), with how many seeds were tried and how many the model got right. */
export function* adversarialExamples(model: AgentModel, seeds: readonly Example[], count: number, seed: number, kinds: EditKinds = "all"): Work<{ examples: Example[]; tried: number; correct: number }> {
  const ens = new Ensemble(model.arch, model.params);
  const index = new Map(model.classes.map((c, i) => [c, i]));
  const rng = new Rng(seed, 0xad5);
  const order = rng.shuffle(Int32Array.from(seeds.keys()));
  const out: Example[] = [];
  let tried = 0;
  let correct = 0;
  for (const k of order) {
    if (out.length >= count) break;
    const e = seeds[k];
    const y = index.get(e.expected_output);
    if (y === undefined) continue;
    tried++;
    let words = e.input.split(/\s+/).filter(Boolean);
    let p = predict(model, words.join(" "), ens);
    if (p.class !== y) continue;
    correct++;
    for (let step = 0; step < MAX_EDITS && p.class === y; step++) {
      let best: { words: string[]; prob: number; cls: number } | null = null;
      for (let i = 0; i < words.length; i++) {
        if (!/[a-z]/i.test(words[i])) continue;
        for (const v of variants(words[i], rng, kinds)) {
          const next = v === "" ? words.filter((_, j) => j !== i) : words.map((w, j) => (j === i ? v : w));
          if (next.length === 0) continue;
          const q = predict(model, next.join(" "), ens);
          if (!best || q.probs[y] < best.prob) best = { words: next, prob: q.probs[y], cls: q.class };
        }
      }
      yield words.length * 6 * model.arch.members * 1000;
      if (!best) break;
      words = best.words;
      p = predict(model, words.join(" "), ens);
    }
    if (p.class !== y) out.push({ input: words.join(" "), expected_output: e.expected_output, synthetic: true });
  }
  return { examples: out, tried, correct };
}
