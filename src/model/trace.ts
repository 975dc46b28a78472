/**
 * What an execution's decision depended on besides the network, so that it
 * can be replayed under other settings or another network (src/adapt/replay.ts).
 * Stored with each execution; read back from R2 by an adaptation run's gate.
 */
import { z } from "zod";

export const ExecutionTraceSchema = z.object({
  /**
   * The memories retrieved (best first, MAX_MEMORIES_RETRIEVED at most): `k`
   * says what each could answer as ("r" a trusted rule matching well enough,
   * "c" a correction, "d" a demo), `s` its similarity, `t` a rule's rank by
   * its last change (0 wins a tie), `a` its answer's key (answerKey).
   */
  hits: z.array(z.object({ k: z.string(), s: z.number(), t: z.number().optional(), a: z.string().optional() })),
  /** The probability that the policy showed no class (exploration and confidence as they were). */
  no_class: z.number(),
});
export type ExecutionTrace = z.output<typeof ExecutionTraceSchema>;
