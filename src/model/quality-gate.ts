/**
 * The data quality gate of a training config: the codes of the data quality
 * report (src/data/quality) and the gate that refuses to train on data below a
 * score or with codes the caller will not accept. Here, beside the other
 * training levers, so that the config schema has one definition.
 */
import { z } from "zod";

export const QUALITY_CODES = [
  "missing_field",
  "empty_input",
  "too_long",
  "duplicate",
  "near_duplicate",
  "conflicting_labels",
  "class_too_small",
  "class_imbalance",
  "likely_mislabeled",
  "pii_detected",
  "inappropriate_content",
  "bias_suspected",
] as const;
export type QualityCode = (typeof QUALITY_CODES)[number];

/** The default minimum score: clean sets score 95–99 (BANKING77 95.9, the bundled FAQ 99.2), BANKING77 with 10% of its labels flipped 86.8: the default refuses data that is mostly broken, not data that is merely noisy. */
export const DEFAULT_MIN_QUALITY = 60;

export const QualityGateSchema = z
  .object({
    min_score: z.number().min(0).max(100).default(DEFAULT_MIN_QUALITY).describe("Refuse to train when the data quality score is below this (0 turns the score check off)"),
    reject_codes: z
      .array(z.enum(QUALITY_CODES, { error: () => `reject_codes must be among ${QUALITY_CODES.join(", ")}` }))
      .max(QUALITY_CODES.length)
      .default([])
      .describe("Refuse to train when the report has any finding of these codes, e.g. ['pii_detected', 'conflicting_labels']"),
  })
  .strict();
export type QualityGate = z.output<typeof QualityGateSchema>;
