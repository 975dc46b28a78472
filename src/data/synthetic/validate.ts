/**
 * The quality validation of generated examples (the seed's step): duplicates
 * of the dataset or of each other are dropped (normalized text), each is
 * scored by the current model's agreement — its probability of the example's
 * label (no score for a label the model does not know) — and examples under
 * the threshold are dropped; the report says how many were kept and why.
 * Adversarial examples are exempt from agreement: the model disagrees with
 * them by construction.
 */
import { predict, type AgentModel } from "../../model/model.ts";
import { Ensemble } from "../../model/ensemble.ts";
import type { Example } from "../examples.ts";
import { normalizedText } from "../quality/near-duplicates.ts";
import { diversity } from "../quality/diversity.ts";

export interface GenerationReport {
  generated: number;
  kept: number;
  dropped: { duplicate: number; disagreement: number };
  /** Mean agreement of the kept examples the model could score, and how many it scored. */
  agreement: { mean: number | null; scored: number; threshold: number | null };
  distinct_2: number;
}

export function validateGenerated(generated: readonly Example[], existing: readonly Example[], model: AgentModel | null, minAgreement: number | null): { kept: Example[]; report: GenerationReport } {
  const seen = new Set(existing.map((e) => normalizedText(e.input)));
  const ens = model ? new Ensemble(model.arch, model.params) : null;
  const index = model ? new Map(model.classes.map((c, i) => [c, i])) : null;
  const kept: Example[] = [];
  const report: GenerationReport = { generated: generated.length, kept: 0, dropped: { duplicate: 0, disagreement: 0 }, agreement: { mean: null, scored: 0, threshold: minAgreement }, distinct_2: 0 };
  let sum = 0;
  for (const e of generated) {
    const key = normalizedText(e.input);
    if (!key || seen.has(key)) {
      report.dropped.duplicate++;
      continue;
    }
    const y = index?.get(e.expected_output);
    if (model && ens && y !== undefined) {
      const p = predict(model, e.input, ens).probs[y];
      if (minAgreement !== null && p < minAgreement) {
        report.dropped.disagreement++;
        continue;
      }
      sum += p;
      report.agreement.scored++;
    }
    seen.add(key);
    kept.push(e);
  }
  report.kept = kept.length;
  report.agreement.mean = report.agreement.scored > 0 ? sum / report.agreement.scored : null;
  report.distinct_2 = kept.length > 0 ? diversity(kept).distinct_2 : 0;
  return { kept, report };
}
