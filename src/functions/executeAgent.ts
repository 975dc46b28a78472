import { z } from "zod";
import { ANSWER_SOURCES, executeAgent as run } from "../agent/execute.ts";
import { memoryServices } from "../memory/store.ts";
import { defineFunction } from "./registry.ts";
import { AgentIdSchema, ContextSchema, randomId } from "./common.ts";
import { Rng } from "../model/rng.ts";

/** One seeded stream per isolate when EXPLORATION_SEED is set (reproducible simulations), else Math.random. */
let seeded: { seed: string; rng: Rng } | null = null;
function explorationRandom(seed: string | undefined): () => number {
  if (!seed) return Math.random;
  if (seeded?.seed !== seed) seeded = { seed, rng: new Rng(Number(seed) >>> 0, 0xe4) };
  const rng = seeded.rng;
  return () => rng.next();
}

export const executeAgent = defineFunction({
  name: "executeAgent",
  summary: "Answer an input with the agent's active (or a given) version",
  description:
    "Retrieves the agent's relevant memories, then answers with a matching trusted procedural rule, else the trained network's class when its calibrated confidence clears the version's threshold, else the nearest demo when similar enough, else an explicit fallback. A version with a language-model answerer (configureAnswerer) has the model write the answer (llm), or the answers the network is not confident of (hybrid), with tokens and cost reported. Each execution is recorded with its latency and the memories it used. With an execution cache (configureAgent), an answer this version gave the same normalized input within the TTL is reused (cached: true).",
  input: z
    .object({
      agent_id: AgentIdSchema,
      input: z.string({ error: (i) => (i.input === undefined ? "input is required" : "input must be a string") }).trim().min(1, "input must not be empty").max(2_000, "input must be at most 2000 characters"),
      version: z.number().int().min(1).optional().describe("Version number; the live version when absent"),
      user_id: z.string().min(1).max(256).optional().describe("The app's user: while a rollout or experiment splits the agent's traffic, one user always gets one version (without it, the input decides)"),
      context: ContextSchema.optional().describe("What the app knows about the situation, e.g. { channel: 'email', plan: 'pro' }: logged with the execution, and features of context_aware versions"),
      stream: z
        .boolean()
        .default(false)
        .describe("Answer as Server-Sent Events: `delta` events with the text as a language model writes it (answerer llm or hybrid), then `done` with the result; an error before the first delta answers as usual"),
    })
    .strict(),
  output: z.object({
    execution_id: z.string(),
    output: z.string(),
    confidence: z.number().describe("Calibrated probability of the predicted class"),
    class: z.string().describe("The predicted response class"),
    fallback: z.boolean().describe("true when nothing answered with enough confidence and output is the fallback answer"),
    source: z.enum(ANSWER_SOURCES).describe("What answered: a procedural memory, the network, the nearest demo, the language model (answerer llm or hybrid), or the fallback"),
    explored: z.boolean().describe("The answer is a class the agent drew while exploring (exploration is set per agent with configureAgent)"),
    version: z.number().int(),
    latency_ms: z.number(),
    memories_used: z.array(z.object({ id: z.string(), memory_type: z.string(), score: z.number(), similarity: z.number() })).describe("Memories retrieved for this input, best first"),
    cached: z.boolean().describe("Answered from the agent's execution cache (configureAgent execution_cache): the answer this version gave the same normalized input within the TTL"),
    llm: z
      .object({ model: z.string(), tokens_in: z.number().int(), tokens_out: z.number().int(), cost_usd: z.number(), attempts: z.number().int(), latency_ms: z.number() })
      .nullable()
      .describe("The language model that wrote the answer: tokens, cost in US dollars (a cached answer: 0), attempts and its latency; null when none did"),
    llm_error: z.string().nullable().describe("A hybrid version's language model failed: its local answer stands, and this is the provider's error"),
  }),
  status: 200,
  streams: true,
  async handler(ctx, input) {
    const memory = memoryServices(ctx.env, () => randomId("mem"));
    return run(
      ctx.db,
      ctx.env.CHECKPOINTS,
      memory,
      { appId: ctx.appId, agentId: input.agent_id, input: input.input, version: input.version, context: input.context, userId: input.user_id, onDelta: ctx.onDelta },
      () => randomId("exe"),
      explorationRandom(ctx.env.EXPLORATION_SEED),
      { db: ctx.db, env: ctx.env, memory },
    );
  },
});
