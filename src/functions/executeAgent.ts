import { z } from "zod";
import { executeAgent as run } from "../agent/execute.ts";
import { defineFunction } from "./registry.ts";
import { AgentIdSchema, randomId } from "./common.ts";

export const executeAgent = defineFunction({
  name: "executeAgent",
  summary: "Answer an input with the agent's active (or a given) version",
  description:
    "Runs the built-in local model: the agent's trained network gives a class and a calibrated confidence; below the version's confidence threshold the answer is an explicit fallback. Each execution is recorded with its latency.",
  input: z
    .object({
      agent_id: AgentIdSchema,
      input: z.string({ error: (i) => (i.input === undefined ? "input is required" : "input must be a string") }).trim().min(1, "input must not be empty").max(2_000, "input must be at most 2000 characters"),
      version: z.number().int().min(1).optional().describe("Version number; the active version when absent"),
    })
    .strict(),
  output: z.object({
    execution_id: z.string(),
    output: z.string(),
    confidence: z.number().describe("Calibrated probability of the predicted class"),
    class: z.string().describe("The predicted response class"),
    fallback: z.boolean().describe("true when confidence was below the threshold and output is the fallback answer"),
    version: z.number().int(),
    latency_ms: z.number(),
  }),
  status: 200,
  async handler(ctx, input) {
    return run(ctx.db, ctx.env.CHECKPOINTS, { appId: ctx.appId, agentId: input.agent_id, input: input.input, version: input.version }, () => randomId("exe"));
  },
});
