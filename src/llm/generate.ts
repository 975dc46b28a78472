/**
 * One language-model answer through the AI SDK, with retries: timeouts,
 * 429s, 5xx, network failures and malformed or empty output are retried with
 * exponential backoff (and jitter) while attempts and the time budget last;
 * a 4xx other than 429 is not. What is left is a domain error naming the
 * provider's: 503 `llm_unavailable` (the provider is overloaded or down: try
 * later) or 502 `llm_bad_response` (it answered with an error or nonsense).
 * With `onDelta` the answer streams (streamText): the text arrives in deltas,
 * and an attempt is retried only while it has sent none (a client never sees
 * the start of two answers).
 */
import { APICallError, generateText, streamText, type LanguageModel } from "ai";
import { DomainError } from "../errors.ts";
import { costUsd, type Price } from "./prices.ts";

export interface GenerateRequest {
  system: string;
  prompt: string;
  temperature: number;
  maxTokens: number;
}

export interface RetryPolicy {
  timeout_ms: number;
  max_attempts: number;
  retry_budget_ms: number;
}

export interface Generated {
  text: string;
  tokens_in: number;
  tokens_out: number;
  cost_usd: number;
  attempts: number;
  latency_ms: number;
}

/** Why an attempt failed, and whether another may succeed. */
function classify(e: unknown): { transient: boolean; malformed: boolean; message: string } {
  if (APICallError.isInstance(e)) {
    const status = e.statusCode ?? 0;
    // A 2xx whose body could not be read: malformed output, worth another try.
    if (status >= 200 && status < 300) return { transient: false, malformed: true, message: `${status}: ${e.message.slice(0, 300)}` };
    const transient = status === 429 || status >= 500 || status === 0 || e.isRetryable;
    return { transient, malformed: false, message: `${status || "no status"}: ${e.message.slice(0, 300)}` };
  }
  const name = e instanceof Error ? e.name : "";
  const message = e instanceof Error ? e.message.slice(0, 300) : String(e);
  if (name === "TimeoutError" || name === "AbortError") return { transient: true, malformed: false, message: `timed out (${message})` };
  if (e instanceof TypeError) return { transient: true, malformed: false, message: `network: ${message}` };
  return { transient: false, malformed: true, message: `${name || "error"}: ${message}` };
}

export class EmptyAnswerError extends Error {
  override name = "EmptyAnswerError";
}

export async function generateWithRetry(
  model: LanguageModel,
  modelName: string,
  req: GenerateRequest,
  policy: RetryPolicy,
  price: Price | null,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  onDelta?: (text: string) => void,
): Promise<Generated> {
  const started = Date.now();
  let last: ReturnType<typeof classify> | null = null;
  let attempts = 0;
  while (attempts < policy.max_attempts) {
    const left = policy.retry_budget_ms - (Date.now() - started);
    if (attempts > 0 && left <= 0) break;
    attempts++;
    let streamed = false;
    try {
      const call = {
        model,
        system: req.system,
        prompt: req.prompt,
        temperature: req.temperature,
        maxOutputTokens: req.maxTokens,
        maxRetries: 0,
        abortSignal: AbortSignal.timeout(Math.max(1, Math.min(policy.timeout_ms, attempts > 1 ? left : policy.timeout_ms))),
      };
      let text: string;
      let usage: { inputTokens: number | undefined; outputTokens: number | undefined };
      if (onDelta) {
        // Errors arrive as stream parts (handled below), not through the default logger.
        const r = streamText({ ...call, onError: () => {} });
        let all = "";
        for await (const part of r.stream) {
          if (part.type === "error") throw part.error;
          if (part.type !== "text-delta" || !part.text) continue;
          // Leading whitespace is held back, as the trimmed answer has none.
          const piece = streamed ? part.text : part.text.trimStart();
          all += part.text;
          if (!piece) continue;
          streamed = true;
          onDelta(piece);
        }
        text = all.trim();
        usage = await r.totalUsage;
      } else {
        const r = await generateText(call);
        text = r.text.trim();
        usage = r.usage;
      }
      if (!text) throw new EmptyAnswerError("the model answered with no text");
      const tokensIn = usage.inputTokens ?? 0;
      const tokensOut = usage.outputTokens ?? 0;
      return { text, tokens_in: tokensIn, tokens_out: tokensOut, cost_usd: costUsd(price, tokensIn, tokensOut), attempts, latency_ms: Date.now() - started };
    } catch (e) {
      last = classify(e);
      // Part of this answer reached the client: another attempt would start a second one.
      if (streamed || (!last.transient && !last.malformed)) break;
      const backoff = Math.min(2000, 100 * 2 ** (attempts - 1)) * (0.5 + Math.random() / 2);
      if (attempts < policy.max_attempts && Date.now() - started + backoff < policy.retry_budget_ms) await sleep(backoff);
    }
  }
  const what = `the language model ${modelName} failed after ${attempts} attempt${attempts > 1 ? "s" : ""} in ${Date.now() - started} ms: ${last?.message ?? "no attempt"}`;
  if (last?.transient) throw new DomainError("unavailable", "llm_unavailable", `${what}; try again later`);
  throw new DomainError("upstream", "llm_bad_response", what);
}
