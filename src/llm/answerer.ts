/**
 * How a version answers besides its network (VersionParams.answerer):
 * `local` (the network, memories, demos: the default), `llm` (a language
 * model writes every answer that no trusted rule or correction gives), or
 * `hybrid` (the network when it is confident, the language model otherwise).
 */
import { z } from "zod";
import { PriceSchema } from "./prices.ts";

export const ANSWERER_MODES = ["local", "llm", "hybrid"] as const;

export const AnswererSchema = z
  .object({
    mode: z.enum(ANSWERER_MODES, { error: () => `mode must be one of ${ANSWERER_MODES.join(", ")}` }),
    model: z.string().trim().min(1).max(200).default("gpt-4o-mini").describe("Chat model name at the provider (OpenAI, or any OpenAI-compatible server)"),
    temperature: z.number().min(0).max(2).default(0),
    max_tokens: z.number().int().min(1).max(4096).default(256).describe("Most output tokens of an answer"),
    instructions: z
      .string()
      .max(8000, "instructions must be at most 8000 characters")
      .default("You are the assistant of an app. Answer the user's message in one short reply.")
      .describe("The system prompt's instructions"),
    use_learned_patterns: z.boolean().default(true).describe("List the answers the version learned (its classes and their characteristic phrases) in the prompt"),
    memory_token_budget: z.number().int().min(0).max(32_000).default(1500).describe("Tokens (estimated: 4 characters each) of retrieved memories and patterns the prompt may hold"),
    demos: z.number().int().min(0).max(20).default(5).describe("Demos (retrieved by similarity to the input) shown as examples"),
    static_demos: z
      .array(z.object({ input: z.string().min(1).max(2000), output: z.string().min(1).max(4000) }).strict())
      .max(20)
      .default([])
      .describe("Demos shown in every prompt, before the retrieved ones (few_shot with use_prompt_engineering bootstraps them)"),
    hybrid_threshold: z.number().min(0).max(1).optional().describe("hybrid: the network answers from this calibrated confidence on (default: the version's confidence_threshold)"),
    price: PriceSchema.optional().describe("What the model's tokens cost (default: the price table, or LLM_PRICES)"),
    timeout_ms: z.number().int().min(100).max(120_000).default(20_000).describe("Longest wait for one call"),
    max_attempts: z.number().int().min(1).max(6).default(3).describe("Calls per answer, the first included (retries back off exponentially)"),
    retry_budget_ms: z.number().int().min(0).max(120_000).default(30_000).describe("Longest time all attempts of one answer may take"),
  })
  .strict();

export type AnswererSettings = z.output<typeof AnswererSchema>;
