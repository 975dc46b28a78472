import { z } from "zod";

/** A queue message naming one step of one run; never data (queue messages are ≤ 128 KB). */
export const StepMessageSchema = z.object({
  run_id: z.string().min(1),
  seq: z.number().int().min(1),
});
export type StepMessage = z.infer<typeof StepMessageSchema>;
