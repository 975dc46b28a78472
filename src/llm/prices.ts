/**
 * What a language model's tokens cost, in US dollars per million tokens
 * (input, output): list prices of OpenAI's chat models as of 2026-11, the
 * default for a model not listed being 0 (reported as unpriced). Override or
 * extend per deployment with LLM_PRICES (JSON: { "model": [input, output] })
 * and per answerer with `price` (a self-hosted model, a negotiated rate).
 */
import { z } from "zod";

export const PriceSchema = z
  .object({
    input_per_mtok: z.number().min(0).max(10_000).describe("US dollars per million input (prompt) tokens"),
    output_per_mtok: z.number().min(0).max(10_000).describe("US dollars per million output tokens"),
  })
  .strict();
export type Price = z.output<typeof PriceSchema>;

export const DEFAULT_PRICES: Readonly<Record<string, Price>> = {
  "gpt-4o-mini": { input_per_mtok: 0.15, output_per_mtok: 0.6 },
  "gpt-4o": { input_per_mtok: 2.5, output_per_mtok: 10 },
  "gpt-4.1": { input_per_mtok: 2, output_per_mtok: 8 },
  "gpt-4.1-mini": { input_per_mtok: 0.4, output_per_mtok: 1.6 },
  "gpt-4.1-nano": { input_per_mtok: 0.1, output_per_mtok: 0.4 },
};

const OverridesSchema = z.record(z.string(), z.tuple([z.number().min(0), z.number().min(0)]));

/** The price of `model`: the answerer's own, else LLM_PRICES, else the table; null when none knows it. */
export function priceOf(model: string, own: Price | undefined, overrides: string | undefined): Price | null {
  if (own) return own;
  const o = overrides ? parsedOverrides(overrides)[model] : undefined;
  if (o) return { input_per_mtok: o[0], output_per_mtok: o[1] };
  return DEFAULT_PRICES[model] ?? null;
}

/** LLM_PRICES parsed once per isolate (it is read on every answer); unreadable: no overrides. */
let parsed: { text: string; table: Record<string, [number, number]> } | null = null;
function parsedOverrides(text: string): Record<string, [number, number]> {
  if (parsed?.text !== text) {
    const r = OverridesSchema.safeParse(safeJson(text));
    parsed = { text, table: r.success ? r.data : {} };
  }
  return parsed.table;
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return null;
  }
}

export function costUsd(price: Price | null, tokensIn: number, tokensOut: number): number {
  if (!price) return 0;
  return (tokensIn * price.input_per_mtok + tokensOut * price.output_per_mtok) / 1e6;
}
