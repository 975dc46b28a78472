/**
 * A language model answering for a version (answerer `llm` or `hybrid`).
 * The local answer comes first, always (memories, rules, the network):
 * - a trusted rule or a correction from feedback answers as it is, in both
 *   modes (the app said so explicitly);
 * - hybrid: the network answers when it is confident (hybrid_threshold, else
 *   the version's confidence_threshold) and did not explore; otherwise, and
 *   always in `llm` mode, the language model writes the answer from the
 *   prompt of prompt.ts.
 * When the model fails (after retries) a hybrid version keeps its local
 * answer and says why (`llm_error`); an `llm` version answers 503/502.
 */
import type { Db } from "../db/client.ts";
import type { Version } from "../agent/versions.ts";
import type { Answer } from "../agent/execute.ts";
import { memoriesVersionOf } from "../agent/versions.ts";
import { listMemories, type MemoryServices, type SearchHit } from "../memory/store.ts";
import { memoryText } from "../memory/scoring.ts";
import { CacheSpace } from "../isolate/cache.ts";
import { MIB } from "../isolate/budget.ts";
import { DomainError } from "../errors.ts";
import type { AnswererSettings } from "./answerer.ts";
import { buildPrompt, patternOf, type Pattern } from "./prompt.ts";
import { generateWithRetry, type Generated } from "./generate.ts";
import { priceOf } from "./prices.ts";
import { chatModel, providerFor, type LlmEnv } from "./provider.ts";

export interface LlmDeps {
  db: Db;
  env: LlmEnv;
  memory: MemoryServices;
}

/** What the local answer was decided by, and how sure the network was. */
export type LocalOutcome = Pick<Answer, "by" | "source" | "explored" | "topConfidence">;

/** Whether the language model writes this answer. */
export function wantsLanguageModel(s: AnswererSettings, local: LocalOutcome, versionThreshold: number): boolean {
  if (s.mode === "local" || local.by !== "policy") return false;
  if (s.mode === "llm") return true;
  return !(local.source === "model" && !local.explored && local.topConfidence >= (s.hybrid_threshold ?? versionThreshold));
}

const patternsCache = new CacheSpace<Pattern[]>("learned-patterns", 2 * MIB);

/** The version's learned patterns (its classes and their characteristic phrases), cached per isolate: versions never change. */
export async function versionPatterns(memory: MemoryServices, appId: string, version: Version): Promise<Pattern[]> {
  const id = memoriesVersionOf(version);
  const hit = patternsCache.get(id);
  if (hit) return hit;
  const rows = await listMemories(memory, appId, { agent_id: version.agentId, version_id: id, tags: "learned_pattern" }, { field: "created_date", desc: false }, 1000, 0);
  const out = rows.flatMap((m) => patternOf(m.content) ?? []);
  patternsCache.set(id, out, out.reduce((s, p) => s + 2 * (p.answer.length + p.phrases.join(" ").length) + 64, 0));
  return out;
}

/** The 503 of a version that answers with a language model when none is reachable. */
export function noLanguageModel(): DomainError {
  return new DomainError("unavailable", "no_language_model", "this version answers with a language model, and the app has none: set one with setLLMCredentials (or OPENAI_API_KEY)");
}

export interface LlmAnswer extends Generated {
  model: string;
}

/** What a prompt shows of the retrieved memories: the static (bootstrapped) demos, then the demos most similar to the input; the other memories' texts (not learned answers: the patterns list them). */
export function promptContext(s: Pick<AnswererSettings, "static_demos" | "demos">, retrieved: readonly SearchHit[]): { demos: { input: string; output: string }[]; memories: string[] } {
  const similar = retrieved
    .filter((h) => h.memory.content.type === "demo" && typeof h.memory.content.input === "string" && typeof h.memory.content.expected_output === "string")
    .map((h) => ({ input: String(h.memory.content.input), output: String(h.memory.content.expected_output) }))
    .filter((d) => !s.static_demos.some((x) => x.input === d.input))
    .slice(0, s.demos);
  const memories = retrieved.filter((h) => h.memory.content.type !== "demo" && h.memory.content.type !== "learned_pattern").map((h) => memoryText(h.memory.content));
  return { demos: [...s.static_demos, ...similar], memories };
}

/** `onDelta`: the answer streams to it as the model writes it. */
export async function languageModelAnswer(
  deps: LlmDeps,
  appId: string,
  version: Version,
  s: AnswererSettings,
  input: string,
  retrieved: readonly SearchHit[],
  onDelta?: (text: string) => void,
): Promise<LlmAnswer> {
  const provider = await providerFor(deps.db, deps.env, appId);
  if (!provider) throw noLanguageModel();
  const model = chatModel(provider, s.model);
  const { demos, memories } = promptContext(s, retrieved);
  const { system, prompt } = buildPrompt({
    instructions: s.instructions,
    patterns: s.use_learned_patterns ? await versionPatterns(deps.memory, appId, version) : null,
    memories,
    demos,
    input,
    budgetTokens: s.memory_token_budget,
  });
  const generated = await generateWithRetry(model, s.model, { system, prompt, temperature: s.temperature, maxTokens: s.max_tokens }, s, priceOf(s.model, s.price, deps.env.LLM_PRICES), undefined, onDelta);
  return { ...generated, model: s.model };
}
