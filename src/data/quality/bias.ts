/**
 * bias_suspected: identity terms that co-occur with a class far above chance.
 * For each term of IDENTITY_TERMS present in the data and each class, the
 * pointwise mutual information of "the input mentions the term" and "the
 * label is the class", and a one-sided binomial test of the co-occurrence
 * count against chance (the term's examples labeled at the class's base rate),
 * Bonferroni-corrected over the pairs tested. A pair is reported when it is
 * at least twice chance (PMI ≥ 1), seen in at least MIN_COUNT examples, and
 * significant at 1%. Topical words share the lists' spelling ("American
 * Express", "European cards", "children's accounts"): a finding is a
 * suspicion for a person to look at, scored by how many examples it touches.
 * Words that are mostly something else in service data ("old card",
 * "straight away", colors, "minor issue") are left out.
 */
import { tokenize } from "../../model/features.ts";
import type { Example } from "../../model/hyper.ts";
import type { BiasFinding } from "./schema.ts";

export type { BiasFinding };

/**
 * The identity terms checked (lower case, whole tokens): gender, nationality
 * and ethnicity, religion, age, disability, sexual orientation. A documented,
 * deliberately plain list: it finds skew worth a look, it does not judge it.
 */
export const IDENTITY_TERMS: Record<string, readonly string[]> = {
  gender: ["he", "she", "him", "her", "his", "hers", "man", "men", "woman", "women", "male", "female", "boy", "girl", "husband", "wife", "mother", "father", "son", "daughter", "mr", "mrs", "ms", "sir", "madam", "lady", "gentleman"],
  nationality: ["american", "british", "english", "chinese", "indian", "mexican", "german", "french", "spanish", "italian", "african", "asian", "european", "arab", "arabic", "russian", "japanese", "korean", "canadian", "australian", "brazilian", "nigerian", "pakistani", "polish", "turkish", "immigrant", "foreigner", "hispanic", "latino", "latina"],
  religion: ["christian", "muslim", "jewish", "jew", "hindu", "buddhist", "sikh", "catholic", "protestant", "atheist", "islam", "islamic", "church", "mosque", "synagogue", "temple"],
  age: ["young", "elderly", "teen", "teenager", "senior", "retired", "pensioner", "kid", "child", "children", "boomer", "millennial"],
  disability: ["disabled", "disability", "blind", "deaf", "wheelchair", "handicapped", "autistic"],
  orientation: ["gay", "lesbian", "bisexual", "transgender", "trans", "queer", "homosexual", "heterosexual"],
};

const GROUP_OF = new Map(Object.entries(IDENTITY_TERMS).flatMap(([g, ts]) => ts.map((t) => [t, g] as const)));
export const MIN_COUNT = 5;
const ALPHA = 0.01;


function logGamma(x: number): number {
  // Lanczos approximation.
  const g = 7;
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + g + 0.5;
  for (let i = 1; i < g + 2; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** P(X ≥ k) for X ~ Binomial(n, p). */
export function binomialTail(k: number, n: number, p: number): number {
  if (k <= 0) return 1;
  if (p <= 0) return 0;
  if (p >= 1) return 1;
  let sum = 0;
  const lnC = (i: number) => logGamma(n + 1) - logGamma(i + 1) - logGamma(n - i + 1);
  for (let i = k; i <= n; i++) sum += Math.exp(lnC(i) + i * Math.log(p) + (n - i) * Math.log(1 - p));
  return Math.min(1, sum);
}

export function biasFindings(examples: readonly Example[]): BiasFinding[] {
  const N = examples.length;
  const classCount = new Map<string, number>();
  const termDocs = new Map<string, number[]>();
  examples.forEach((e, i) => {
    classCount.set(e.expected_output, (classCount.get(e.expected_output) ?? 0) + 1);
    for (const t of new Set(tokenize(e.input))) if (GROUP_OF.has(t)) (termDocs.get(t) ?? termDocs.set(t, []).get(t)!).push(i);
  });
  const pairs: { term: string; cls: string; docs: number[] }[] = [];
  for (const [term, docs] of termDocs) {
    const byClass = new Map<string, number[]>();
    for (const i of docs) (byClass.get(examples[i].expected_output) ?? byClass.set(examples[i].expected_output, []).get(examples[i].expected_output)!).push(i);
    for (const [cls, d] of byClass) if (d.length >= MIN_COUNT) pairs.push({ term, cls, docs: d });
  }
  const tests = Math.max(1, pairs.length);
  const out: BiasFinding[] = [];
  for (const { term, cls, docs } of pairs) {
    const nt = termDocs.get(term)!.length;
    const nc = classCount.get(cls)!;
    const expected = (nt * nc) / N;
    const pmi = Math.log2(docs.length / expected);
    if (pmi < 1) continue;
    const p = binomialTail(docs.length, nt, nc / N);
    if (p * tests >= ALPHA) continue;
    out.push({ term, group: GROUP_OF.get(term)!, class: cls, count: docs.length, expected, pmi, p_value: Math.min(1, p * tests), examples: docs.slice(0, 10) });
  }
  return out.sort((a, b) => a.p_value - b.p_value || b.pmi - a.pmi);
}
