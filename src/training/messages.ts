import { z } from "zod";

/** Queue messages name work and never carry data (queue messages are ≤ 128 KB). */

/** One step of one training run. */
export const StepMessageSchema = z.object({
  run_id: z.string().min(1),
  seq: z.number().int().min(1),
});
export type StepMessage = z.infer<typeof StepMessageSchema>;

/** One step of one queued evaluation (src/evaluation/job.ts). */
export const EvaluationMessageSchema = z.object({ evaluation_id: z.string().min(1), seq: z.number().int().min(1) });
export type EvaluationMessage = z.output<typeof EvaluationMessageSchema>;

/** What the steps queue carries. */
export type QueueMessage = StepMessage | EvaluationMessage;
