/**
 * The rows adaptation works on (zod: they travel to R2 and back in an
 * adaptation's data, and their types come from here):
 * - a logged row: a class shown, its propensity and the reward it earned (what off-policy learning learns from);
 * - a traced row: any execution with feedback and its trace (what the gates and performance_tuning replay);
 * - a labeled row: an input and the answer it should get (corrections, confirmed answers).
 */
import { z } from "zod";
import { ExecutionTraceSchema } from "../model/trace.ts";

const ContextSchema = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).nullable();

export const LoggedRowSchema = z.object({
  input: z.string(),
  context: ContextSchema,
  action: z.number().int().min(0),
  propensity: z.number().gt(0).max(1),
  reward: z.number().min(0).max(1),
});
export type LoggedRow = z.output<typeof LoggedRowSchema>;

export const TracedRowSchema = z.object({
  input: z.string(),
  context: ContextSchema,
  output: z.string(),
  /** What answered: rule, model, demo or fallback. */
  source: z.string(),
  action: z.number().int().min(0).nullable(),
  propensity: z.number().nullable(),
  trace: ExecutionTraceSchema,
  reward: z.number().min(0).max(1),
});
export type TracedRow = z.output<typeof TracedRowSchema>;

export const LabeledRowSchema = z.object({ input: z.string(), expected_output: z.string() });
export type LabeledRow = z.output<typeof LabeledRowSchema>;
