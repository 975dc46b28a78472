/**
 * The data quality report every dataset version gets: machine-readable codes
 * per example and in total, diversity, the suspects of confident learning,
 * identity-term skew, PII and inappropriate content, and a quality score
 * 0–100 from named components — what the quality gate of trainAgent reads.
 */
import { QUALITY_CODES, type QualityCode } from "../../model/quality-gate.ts";
import type { Example } from "../../model/hyper.ts";
import type { DataReport } from "../examples.ts";
import type { Work } from "../../model/work.ts";
import { detectPii } from "../../pii/detect.ts";
import { biasFindings } from "./bias.ts";
import { inappropriate } from "./content.ts";
import { diversity } from "./diversity.ts";
import { confidentLearning, crossValidatedProbabilities, CV_FOLDS } from "./mislabeled.ts";
import { nearDuplicatePairs } from "./near-duplicates.ts";
import { fnv1a } from "../../model/hash.ts";
import type { QualityComponent, QualityFinding, QualityReport } from "./schema.ts";

export type { QualityReport };

/** A class with fewer examples than this (or than a tenth of the median class) is too small to learn from reliably. */
export const MIN_CLASS_EXAMPLES = 3;
/** Largest to smallest class above this ratio: imbalanced. */
export const MAX_IMBALANCE = 10;
/** Confident learning needs this many examples, and at least CV_FOLDS per class on average. */
export const MIN_EXAMPLES_FOR_LABEL_CHECK = 50;
/**
 * Confident learning trains four networks inside the request: above this many
 * examples it checks a seeded sample of them (every class kept in proportion),
 * so a 100,000-example upload costs what a 20,000-example one does — in time
 * and in the Worker's 128 MB.
 */
export const MAX_LABEL_CHECK_EXAMPLES = 20_000;
/** Findings listed per code (the counts are complete). */
const MAX_FINDINGS_PER_CODE = 50;




const ratio = (a: number, b: number) => (b > 0 ? a / b : 0);

/** The report of `examples` (a dataset's rows, duplicates already removed as `data` says); pausable work (confident learning trains). */
export function* qualityReportWork(examples: readonly Example[], data: DataReport, seed = 1, maxLabelCheck = MAX_LABEL_CHECK_EXAMPLES): Work<QualityReport> {
  const started = Date.now();
  const findings: QualityFinding[] = [];
  const counts = Object.fromEntries(QUALITY_CODES.map((c) => [c, 0])) as Record<QualityCode, number>;
  const listed = Object.fromEntries(QUALITY_CODES.map((c) => [c, 0])) as Record<QualityCode, number>;
  const list = (f: QualityFinding) => {
    if (listed[f.code]++ < MAX_FINDINGS_PER_CODE) findings.push(f);
  };
  const note = (f: QualityFinding) => {
    counts[f.code]++;
    list(f);
  };
  const N = examples.length;
  const classes = [...new Set(examples.map((e) => e.expected_output))].sort();

  // Duplicates and conflicting labels: from the data report (exact duplicates are gone from `examples`).
  counts.duplicate = data.duplicates_removed;
  for (const d of data.duplicates) list({ code: "duplicate", index: d.index, detail: `the same input and output as example ${d.duplicate_of} of the upload (removed)` });
  for (const c of data.contradictions) note({ code: "conflicting_labels", indices: c.indices, detail: `the same input is labeled ${c.outputs.map((o) => JSON.stringify(o.slice(0, 60))).join(" and ")}` });
  counts.conflicting_labels = data.contradiction_count;

  const pairs = nearDuplicatePairs(examples.map((e) => e.input));
  const nearDup = new Set<number>();
  for (const p of pairs) {
    nearDup.add(p.j);
    note({ code: "near_duplicate", index: p.j, indices: [p.i, p.j], detail: `${Math.round(p.similarity * 100)}% like example ${p.i}${examples[p.i].expected_output === examples[p.j].expected_output ? "" : ", with another label"}` });
  }
  counts.near_duplicate = nearDup.size;
  if (pairs.truncated) list({ code: "near_duplicate", detail: `more near-duplicate pairs than the ${pairs.length} confirmed: the count is a lower bound` });
  yield N * 64;

  // Classes: too small, imbalance.
  const size = new Map<string, number>();
  for (const e of examples) size.set(e.expected_output, (size.get(e.expected_output) ?? 0) + 1);
  const sizes = [...size.values()].sort((a, b) => a - b);
  const median = sizes[Math.floor(sizes.length / 2)] ?? 0;
  const floor = Math.max(MIN_CLASS_EXAMPLES, Math.ceil(median / 10));
  const small = [...size.entries()].filter(([, n]) => n < floor);
  for (const [cls, n] of small) note({ code: "class_too_small", class: cls, detail: `${n} example(s); at least ${floor} are needed (${MIN_CLASS_EXAMPLES}, or a tenth of the median class, ${median})` });
  const largest = sizes[sizes.length - 1] ?? 0;
  const smallest = sizes[0] ?? 0;
  if (smallest > 0 && largest / smallest > MAX_IMBALANCE) {
    const under = [...size.entries()].filter(([, n]) => n * MAX_IMBALANCE < largest);
    counts.class_imbalance = under.length;
    list({ code: "class_imbalance", detail: `the largest class has ${largest} examples, ${(largest / smallest).toFixed(1)}× the smallest (${smallest}); ${under.length} class(es) have under a ${MAX_IMBALANCE}th of it: ${under.slice(0, 10).map(([c]) => JSON.stringify(c.slice(0, 40))).join(", ")}` });
  }

  // Safety: PII and inappropriate content (input or output).
  const byEntity: Record<string, number> = {};
  let piiExamples = 0;
  examples.forEach((e, i) => {
    const spans = [...detectPii(e.input), ...detectPii(e.expected_output)];
    if (spans.length > 0) {
      piiExamples++;
      for (const s of spans) byEntity[s.entity] = (byEntity[s.entity] ?? 0) + 1;
      note({ code: "pii_detected", index: i, detail: [...new Set(spans.map((s) => s.entity))].join(", ") });
    }
    if (inappropriate(e.input) || inappropriate(e.expected_output)) note({ code: "inappropriate_content", index: i, detail: "profanity, a slur or sexual content" });
  });
  yield N * 32;

  // Labels: confident learning with cross-validated probabilities of the agent's network.
  let mislabeled: QualityReport["likely_mislabeled"];
  let labelChecked = N;
  if (N < MIN_EXAMPLES_FOR_LABEL_CHECK || N < classes.length * CV_FOLDS) {
    mislabeled = { checked: false, note: `too few examples to cross-validate (${N}; at least ${MIN_EXAMPLES_FOR_LABEL_CHECK} and ${CV_FOLDS} per class)`, suspects: [] };
  } else {
    // A sample when the set is large: every example kept with the same chance, by a stable hash (so the same set gets the same sample).
    const rate = Math.min(1, maxLabelCheck / N);
    const sampled = rate < 1 ? examples.flatMap((e, i) => (fnv1a(`${i}\u0000${e.input}`, seed ^ 0x5a3) / 4294967296 < rate ? [i] : [])) : examples.map((_, i) => i);
    const checked = sampled.map((i) => examples[i]);
    labelChecked = checked.length;
    const probs = yield* crossValidatedProbabilities(checked, classes, seed);
    const suspects = confidentLearning(checked, classes, probs).map((x) => ({ ...x, index: sampled[x.index] }));
    for (const s of suspects) note({ code: "likely_mislabeled", index: s.index, class: s.given, detail: `labeled ${JSON.stringify(s.given.slice(0, 60))} (p ${s.self_confidence.toFixed(2)}, class threshold ${s.threshold.toFixed(2)}); the network says ${JSON.stringify(s.suggested.slice(0, 60))} (p ${s.suggested_probability.toFixed(2)})` });
    const scope = rate < 1 ? ` among a sample of ${checked.length} of the ${N} examples (a set this large is sampled; the count is of the sample)` : "";
    mislabeled = { checked: true, note: `${CV_FOLDS}-fold cross-validated probabilities; ${suspects.length} suspect(s)${scope}`, suspects: suspects.slice(0, 100) };
  }

  const bias = biasFindings(examples);
  const biasTouched = bias.reduce((s, b) => s + b.count, 0);
  for (const b of bias) note({ code: "bias_suspected", class: b.class, indices: b.examples, detail: `"${b.term}" (${b.group}) appears in ${b.count} examples of this class, ${(b.count / b.expected).toFixed(1)}× chance (p ${b.p_value.toExponential(1)}, Bonferroni)` });

  const div = diversity(examples);
  const nearDuplicateRate = ratio(nearDup.size, N);

  // The score: a weighted mean of components, each 0–100.
  const raw = N + data.duplicates_removed;
  let entropy = 0;
  for (const n of sizes) entropy -= (n / N) * Math.log(n / N);
  const balance = classes.length > 1 ? entropy / Math.log(classes.length) : 1;
  const unsafe = new Set(findings.filter((f) => f.code === "pii_detected" || f.code === "inappropriate_content").map((f) => f.index)).size;
  const components: QualityComponent[] = [
    { name: "validity", weight: 0.2, score: 100 * (1 - Math.min(1, ratio(data.duplicates_removed + 2 * data.contradiction_count, raw))), detail: `${data.duplicates_removed} duplicate(s) removed, ${data.contradiction_count} input(s) with conflicting labels, of ${raw} rows` },
    {
      name: "labels",
      weight: 0.25,
      score: mislabeled.checked ? 100 * Math.max(0, 1 - 5 * ratio(counts.likely_mislabeled, labelChecked)) : 100,
      detail: mislabeled.checked ? `${counts.likely_mislabeled} likely mislabeled of ${labelChecked} checked (the share counts five times: a fifth of the data scores 0)` : mislabeled.note,
    },
    { name: "balance", weight: 0.1, score: 100 * balance, detail: `class distribution entropy ${(balance * 100).toFixed(0)}% of uniform; largest/smallest ${smallest ? (largest / smallest).toFixed(1) : "-"}` },
    { name: "coverage", weight: 0.1, score: 100 * (1 - ratio(small.length, classes.length)), detail: `${small.length} of ${classes.length} classes too small` },
    {
      name: "diversity",
      weight: 0.1,
      score: 100 * (0.5 * (1 - nearDuplicateRate) + 0.5 * Math.min(1, div.class_spread.mean / 0.5)),
      detail: `${(nearDuplicateRate * 100).toFixed(1)}% near-duplicates; mean class spread ${div.class_spread.mean.toFixed(2)} (0.5 and more counts as fully diverse)`,
    },
    { name: "safety", weight: 0.15, score: 100 * (1 - ratio(unsafe, N)), detail: `${piiExamples} example(s) with PII, ${counts.inappropriate_content} with inappropriate content` },
    {
      name: "fairness",
      weight: 0.1,
      score: 100 * (1 - Math.min(1, 5 * ratio(biasTouched, N))),
      detail: `${bias.length} identity term–class skew(s) over ${biasTouched} example(s) (a fifth of the data or more scores 0)`,
    },
  ];
  const score = Math.round(components.reduce((s, c) => s + c.weight * c.score, 0) * 10) / 10;
  return {
    examples: N,
    classes: classes.length,
    score,
    components: components.map((c) => ({ ...c, score: Math.round(c.score * 10) / 10 })),
    counts,
    findings,
    likely_mislabeled: mislabeled,
    bias,
    diversity: { ...div, near_duplicate_rate: nearDuplicateRate },
    pii: { examples: piiExamples, by_entity: byEntity },
    seconds: (Date.now() - started) / 1000,
  };
}
