/**
 * A language model called many times for one job (bootstrapped demos, prompt
 * optimization): each answer with the answerer's retries, priced, and its
 * calls, failures and cost added up; a call that fails after its retries is
 * no answer (null), not an error — the job goes on.
 */
import type { LanguageModel } from "ai";
import { DomainError } from "../errors.ts";
import type { AnswererSettings } from "./answerer.ts";
import { generateWithRetry, type Generated } from "./generate.ts";
import type { Price } from "./prices.ts";

export interface Usage {
  calls: number;
  failed_calls: number;
  cost_usd: number;
}

/** Whether a model's answer is the expected one (case and spacing aside). */
export const sameAnswer = (a: string, b: string) => a.trim().replace(/\s+/g, " ").toLowerCase() === b.trim().replace(/\s+/g, " ").toLowerCase();

export function meteredModel(model: LanguageModel, s: AnswererSettings, price: Price | null) {
  const usage: Usage = { calls: 0, failed_calls: 0, cost_usd: 0 };
  return {
    usage,
    /** The model's answer to a prompt, or null when it failed after its retries. */
    async generate(system: string, prompt: string): Promise<Generated | null> {
      try {
        const g = await generateWithRetry(model, s.model, { system, prompt, temperature: s.temperature, maxTokens: s.max_tokens }, s, price);
        usage.calls += g.attempts;
        usage.cost_usd += g.cost_usd;
        return g;
      } catch (e) {
        if (!(e instanceof DomainError)) throw e;
        usage.calls++;
        usage.failed_calls++;
        return null;
      }
    },
  };
}
