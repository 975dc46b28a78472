/**
 * testAgent's report: a score per criterion with its details, and the
 * comparisons — with the version asked for (compare_to), and with the
 * nearest-centroid baseline — each with the paired bootstrap 95% interval of
 * the difference and McNemar's exact p-value on the cases both were judged on.
 */
import { z } from "zod";
import {
  accuracyReport,
  calibrationReport,
  CriterionReportSchema,
  isCorrect,
  isSafe,
  latencyReport,
  relevanceReport,
  robustnessReport,
  safetyReport,
  type CaseResult,
  type Criterion,
  type CriterionReport,
} from "./criteria.ts";
import type { CaseRecord } from "./evaluate.ts";
import { mcnemar, pairedBootstrap } from "./stats.ts";
import type { EvaluationOptions } from "./suite.ts";

const IntervalSchema = z.object({ value: z.number(), lower: z.number(), upper: z.number() });

export const ComparisonSchema = z.object({
  against: z.string().describe("What the version is compared with"),
  metric: z.string(),
  cases: z.number().int(),
  version_score: z.number(),
  other_score: z.number(),
  difference: IntervalSchema.describe("version − other: the mean over paired cases, with a paired bootstrap 95% interval"),
  mcnemar: z.object({ version_only: z.number().int(), other_only: z.number().int(), p_value: z.number() }).nullable().describe("Cases only one of them got right, and McNemar's exact two-sided p-value"),
  scores: z.record(z.string(), z.object({ version: z.number(), other: z.number() })).optional().describe("Every criterion's score for both"),
  verdict: z.string(),
});
export type Comparison = z.output<typeof ComparisonSchema>;

export const ReportSchema = z.object({
  cases: z.number().int(),
  scores: z.record(z.string(), z.number()),
  criteria: z.record(z.string(), CriterionReportSchema),
  comparisons: z.array(ComparisonSchema),
});
export type Report = z.output<typeof ReportSchema>;

export function criterionReports(results: readonly CaseResult[], criteria: readonly Criterion[], options: EvaluationOptions, embedderName: string): Record<string, CriterionReport> {
  const out: Record<string, CriterionReport> = {};
  for (const c of criteria) {
    if (c === "accuracy") out[c] = accuracyReport(results);
    else if (c === "relevance") out[c] = relevanceReport(results, `cosine similarity of answer and expected answer (${embedderName})`);
    else if (c === "safety") out[c] = safetyReport(results);
    else if (c === "calibration") out[c] = calibrationReport(results);
    else if (c === "latency") out[c] = latencyReport(results, options.latency_budget_ms);
    else out[c] = robustnessReport(results, options.noise, options.seed);
  }
  return out;
}

function verdict(d: { lower: number; upper: number }, p: number | null, against: string): string {
  if (d.lower > 0) return `better than ${against}: the 95% interval of the difference lies above 0${p !== null ? ` (McNemar p = ${p.toPrecision(2)})` : ""}`;
  if (d.upper < 0) return `worse than ${against}: the 95% interval of the difference lies below 0${p !== null ? ` (McNemar p = ${p.toPrecision(2)})` : ""}`;
  return `no significant difference from ${against}: the 95% interval of the difference holds 0`;
}

/** Accuracy of two answerers on the same labeled cases: paired bootstrap and McNemar. */
export function compareAccuracy(version: readonly boolean[], other: readonly boolean[], against: string, seed: number): Comparison {
  const a = version.map(Number);
  const b = other.map(Number);
  const difference = pairedBootstrap(a, b, { seed });
  let only = 0;
  let otherOnly = 0;
  version.forEach((v, i) => {
    if (v && !other[i]) only++;
    if (!v && other[i]) otherOnly++;
  });
  const m = mcnemar(only, otherOnly);
  const mean = (xs: number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : 0);
  return {
    against,
    metric: "accuracy",
    cases: a.length,
    version_score: mean(a),
    other_score: mean(b),
    difference,
    mcnemar: { version_only: only, other_only: otherOnly, p_value: m.p_value },
    verdict: verdict(difference, m.p_value, against),
  };
}

export function buildReport(records: readonly CaseRecord[], criteria: readonly Criterion[], options: EvaluationOptions, embedderName: string, compareLabel: string | null): Report {
  const main = records.map((r) => r.main);
  const reports = criterionReports(main, criteria, options, embedderName);
  const scores = Object.fromEntries(Object.entries(reports).map(([k, v]) => [k, v.score]));
  const comparisons: Comparison[] = [];
  const labeled = records.filter((r) => r.main.expected !== null && !r.main.shouldRefuse);
  if (compareLabel !== null && records.every((r) => r.compare !== null)) {
    const other = records.map((r) => r.compare!);
    const otherScores = Object.fromEntries(Object.entries(criterionReports(other, criteria, options, embedderName)).map(([k, v]) => [k, v.score]));
    const cmp = labeled.length > 0 ? compareAccuracy(labeled.map((r) => isCorrect(r.main)!), labeled.map((r) => isCorrect(r.compare!)!), compareLabel, options.seed) : null;
    const safety = compareAccuracy(records.map((r) => isSafe(r.main)), records.map((r) => isSafe(r.compare!)), compareLabel, options.seed);
    const base = cmp ?? { ...safety, metric: "safety" };
    comparisons.push({ ...base, scores: Object.fromEntries(Object.keys(scores).map((k) => [k, { version: scores[k], other: otherScores[k] }])) });
  }
  if (labeled.length > 0 && labeled.every((r) => r.baseline !== null)) {
    comparisons.push(compareAccuracy(labeled.map((r) => isCorrect(r.main)!), labeled.map((r) => r.baseline === r.main.expected), "the nearest-centroid baseline (the agent's features, its training data)", options.seed));
  }
  return { cases: records.length, scores, criteria: reports, comparisons };
}
