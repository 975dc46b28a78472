/**
 * The data quality report's shape, one definition: what the report computes,
 * what R2 keeps beside a dataset (read back through it), and what the API
 * documents.
 */
import { z } from "zod";
import { QUALITY_CODES } from "../../model/quality-gate.ts";

export const SuspectSchema = z.object({
  index: z.number().int(),
  given: z.string(),
  suggested: z.string(),
  /** p of the given label, and its class's threshold. */
  self_confidence: z.number(),
  threshold: z.number(),
  suggested_probability: z.number(),
});
export type Suspect = z.infer<typeof SuspectSchema>;

export const BiasFindingSchema = z.object({
  term: z.string(),
  group: z.string(),
  class: z.string(),
  count: z.number().int(),
  expected: z.number(),
  pmi: z.number(),
  p_value: z.number(),
  /** Examples with the term in the class (the first ten). */
  examples: z.array(z.number().int()),
});
export type BiasFinding = z.infer<typeof BiasFindingSchema>;

export const DiversitySchema = z.object({
  distinct_1: z.number(),
  distinct_2: z.number(),
  class_spread: z.object({ mean: z.number(), lowest: z.array(z.object({ class: z.string(), spread: z.number(), examples: z.number().int() })) }),
});
export type Diversity = z.infer<typeof DiversitySchema>;

const CodeSchema = z.enum(QUALITY_CODES);

export const QualityFindingSchema = z.object({
  code: CodeSchema,
  /** The example (its index in the dataset version) or examples concerned; none for a whole-dataset finding. */
  index: z.number().int().optional(),
  indices: z.array(z.number().int()).optional(),
  class: z.string().optional(),
  detail: z.string(),
});
export type QualityFinding = z.infer<typeof QualityFindingSchema>;

export const QualityComponentSchema = z.object({ name: z.string(), score: z.number(), weight: z.number(), detail: z.string() });
export type QualityComponent = z.infer<typeof QualityComponentSchema>;

export const QualityReportSchema = z.object({
  examples: z.number().int(),
  classes: z.number().int(),
  score: z.number(),
  components: z.array(QualityComponentSchema),
  counts: z.record(CodeSchema, z.number().int()),
  /** The first findings of each code (the counts are complete). */
  findings: z.array(QualityFindingSchema),
  likely_mislabeled: z.object({ checked: z.boolean(), note: z.string(), suspects: z.array(SuspectSchema) }),
  bias: z.array(BiasFindingSchema),
  diversity: DiversitySchema.extend({ near_duplicate_rate: z.number() }),
  pii: z.object({ examples: z.number().int(), by_entity: z.record(z.string(), z.number().int()) }),
  seconds: z.number(),
});
export type QualityReport = z.infer<typeof QualityReportSchema>;
