import { z } from "zod";

/** Queue messages name work and never carry data (queue messages are ≤ 128 KB). */

/** One step of one training run. */
export const StepMessageSchema = z.object({
  run_id: z.string().min(1),
  seq: z.number().int().min(1),
});
export type StepMessage = z.infer<typeof StepMessageSchema>;

/**
 * One shard of one round of a distributed run (config.distributed). Strict,
 * and tried before StepMessageSchema (which would read it as a step).
 */
export const ShardMessageSchema = z.strictObject({
  run_id: z.string().min(1),
  seq: z.number().int().min(1),
  shard: z.number().int().min(0),
});
export type ShardMessage = z.infer<typeof ShardMessageSchema>;

/** What a training run's steps enqueue. */
export type TrainingMessage = StepMessage | ShardMessage;

/** One step of one queued evaluation (src/evaluation/job.ts). */
export const EvaluationMessageSchema = z.object({ evaluation_id: z.string().min(1), seq: z.number().int().min(1) });
export type EvaluationMessage = z.output<typeof EvaluationMessageSchema>;

/** One trial of an optimization (src/optimize/run.ts): rung -1 is the final comparison, -2 the ladders. */
export const TrialMessageSchema = z.object({ optimization_id: z.string().min(1), rung: z.number().int().min(-2), idx: z.number().int().min(0) });
export type TrialMessage = z.output<typeof TrialMessageSchema>;

/** One step of an erasure (src/erasure/job.ts). */
export const ErasureMessageSchema = z.object({ erasure_id: z.string().min(1), seq: z.number().int().min(1) });
export type ErasureMessage = z.output<typeof ErasureMessageSchema>;

/** What the steps queue carries. */
export type QueueMessage = TrainingMessage | EvaluationMessage | TrialMessage | ErasureMessage;
