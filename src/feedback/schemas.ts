/** A feedback record as apps send it (submitFeedback and the feedback webhook take the same body). */
import { z } from "zod";
import { FEEDBACK_LABELS } from "../db/schema.ts";

export const MAX_FEEDBACK_BATCH = 500;

export const FeedbackItemSchema = z
  .object({
    execution_id: z.string().regex(/^exe_[0-9a-f]{24}$/, "execution_id must look like exe_ followed by 24 hex digits (as executeAgent returns it)"),
    reward: z.number().min(0).max(1).optional().describe("An explicit reward in [0, 1]"),
    feedback: z.enum(FEEDBACK_LABELS).optional(),
    correct_output: z.string().trim().min(1).max(4_000).optional().describe("What the agent should have answered: becomes a labeled example (online adaptation) and a correction the agent uses at once"),
    user_satisfaction: z.number().min(0).max(1).optional().describe("In [0, 1]"),
    comment: z.string().max(2_000).optional(),
  })
  .strict()
  .refine((f) => f.reward !== undefined || f.feedback !== undefined || f.correct_output !== undefined || f.user_satisfaction !== undefined, {
    message: "give at least one of reward, feedback, correct_output or user_satisfaction",
  });
export type FeedbackItem = z.output<typeof FeedbackItemSchema>;

/** One record, or a batch of them (all recorded, or none). */
export const FeedbackBodySchema = z.union([FeedbackItemSchema, z.array(FeedbackItemSchema).min(1).max(MAX_FEEDBACK_BATCH)]);

export const FeedbackResultSchema = z.object({
  recorded: z.number().int(),
  execution_ids: z.array(z.string()),
  corrections: z.number().int().describe("Records with a correct_output (each also became a correction memory of the agent)"),
});
