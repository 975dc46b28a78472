/**
 * Executing an agent (DESIGN.md sections 4, 5, 7): the agent's relevant
 * memories are retrieved first; then the local answer is
 *   1. a procedural rule's answer, when a trusted rule matches the input well
 *      (rules that match about equally well are one trigger: the newest answers);
 *   2. else a correction from feedback (a demo marked `correction`) when it
 *      matches the input almost exactly (the same question, answered anew);
 *   3. else what the agent's policy shows (model/policy.ts): with probability
 *      `rate` (exploration, opt-in per agent) a class drawn by the strategy,
 *      otherwise the predicted class when the network's calibrated confidence
 *      clears the version's threshold;
 *   4. when no class is shown, the nearest demo's answer when one is similar
 *      enough, else an explicit fallback;
 * and a version with a language-model answerer (src/llm/answer.ts) has the
 * model write the answers no rule or correction gave (llm), or those the
 * network is unsure of (hybrid), streaming when asked.
 * Every execution is recorded with its latency, the memories it used, and —
 * for off-policy learning — the class shown, its propensity, whether it was
 * explored, and the context; scrubbed as the app's PII policy says (the
 * answer itself used the raw input). With an execution cache (cache.ts) an
 * answer this version gave the same normalized input within the TTL is
 * reused and recorded like any other.
 */
import type { Db } from "../db/client.ts";
import { executions } from "../db/schema.ts";
import { ExecutionTraceSchema, type ExecutionTrace } from "../model/trace.ts";
import { z } from "zod";
import { cacheKey, cacheOn, readCache, writeCache, type CacheAddress } from "./cache.ts";
import { scrub, scrubberOf, type Scrubber } from "../pii/policy.ts";
import { sha256Hex } from "../storage/hash.ts";
import { predict } from "../model/model.ts";
import { actionDistribution, chooseAction, NO_EXPLORATION } from "../model/policy.ts";
import { modelText, type ExecutionContext } from "../model/context.ts";
import { searchMemories, type MemoryServices } from "../memory/store.ts";
import { loadModel, memoriesVersionOf, resolveVersion, versionById, type Version } from "./versions.ts";
import { agentWithSplit, route } from "../deploy/routing.ts";
import { languageModelAnswer, noLanguageModel, wantsLanguageModel, type LlmDeps } from "../llm/answer.ts";
import { DomainError } from "../errors.ts";
import type { AgentModel } from "../model/model.ts";
import type { Ensemble } from "../model/ensemble.ts";
import type { Exploration } from "../model/policy.ts";
import {
  answerKey,
  decideMemory,
  executionSettings,
  MAX_MEMORIES_RETRIEVED,
  RULE_MIN_CONFIDENCE,
  RULE_MIN_SIMILARITY,
  traceHit,
  type Candidate,
} from "./decide.ts";

export interface ExecuteRequest {
  appId: string;
  agentId: string;
  input: string;
  version?: number;
  context?: ExecutionContext;
  /** The app's user: executions of one user go to one version while a rollout or experiment splits traffic. */
  userId?: string;
  /** A language model's answer streams here as it is written (executeAgent with stream: true). */
  onDelta?: (text: string) => void;
}

export const ANSWER_SOURCES = ["rule", "model", "demo", "llm", "fallback"] as const;
export type AnswerSource = (typeof ANSWER_SOURCES)[number];

/** A language model's part in an answer (answerer llm or hybrid; src/llm). */
const LlmUsageSchema = z.object({
  model: z.string(),
  tokens_in: z.number().int(),
  tokens_out: z.number().int(),
  cost_usd: z.number(),
  attempts: z.number().int(),
  latency_ms: z.number(),
});
export type LlmUsage = z.infer<typeof LlmUsageSchema>;

export interface ExecuteResult {
  execution_id: string;
  output: string;
  confidence: number;
  class: string;
  fallback: boolean;
  source: AnswerSource;
  /** The answer is a class the policy drew while exploring (not its best guess). */
  explored: boolean;
  version: number;
  latency_ms: number;
  memories_used: { id: string; memory_type: string; score: number; similarity: number }[];
  /** Answered from the execution cache (agent/cache.ts). */
  cached: boolean;
  /** The language model that wrote the answer and what it cost (a cached answer: nothing now), or null. */
  llm: LlmUsage | null;
  /** A hybrid version's language model failed: the local answer stands, and this says why. */
  llm_error: string | null;
}

/** A version ready to answer: its weights loaded. */
export interface Answerer {
  memory: MemoryServices;
  appId: string;
  agentId: string;
  version: Version;
  model: AgentModel;
  ensemble: Ensemble;
}

/** What answered an input, and what the execution log needs. */
const AnswerSchema = z.object({
  output: z.string(),
  confidence: z.number(),
  class: z.string(),
  fallback: z.boolean(),
  source: z.enum(ANSWER_SOURCES),
  /** What decided the local answer: a rule, a correction, or the policy (the network, a demo, the fallback). */
  by: z.enum(["rule", "correction", "policy"]),
  explored: z.boolean(),
  memories_used: z.array(z.object({ id: z.string(), memory_type: z.string(), score: z.number(), similarity: z.number() })),
  /** The network's top class and its calibrated probability (whatever answered). */
  top: z.number().int(),
  topConfidence: z.number(),
  action: z.number().int().nullable(),
  propensity: z.number().nullable(),
  trace: ExecutionTraceSchema,
  llm: LlmUsageSchema.nullable(),
  llm_error: z.string().nullable(),
});
export type Answer = z.infer<typeof AnswerSchema>;

/** An answer as the execution cache keeps it (never an explored one). */
const CachedAnswerSchema = AnswerSchema.extend({ explored: z.literal(false) });

export async function answererFor(checkpoints: R2Bucket, memory: MemoryServices, appId: string, agentId: string, version: Version): Promise<Answerer> {
  const { model, ensemble } = await loadModel(checkpoints, version);
  return { memory, appId, agentId, version, model, ensemble };
}

type Retrieved = Awaited<ReturnType<typeof searchMemories>>;

/** The memories an execution of `version` reads for `input` (its own and its learned ones). */
function retrieve(memory: MemoryServices, appId: string, agentId: string, version: Version, input: string): Promise<Retrieved> {
  return searchMemories(memory, appId, { agentId, query: input, topK: MAX_MEMORIES_RETRIEVED, versionId: memoriesVersionOf(version) });
}

/**
 * The version's answer to `input`: memories first, then its policy (exploring as `exploration` says), a demo, or the fallback. Writes nothing.
 * `retrieved`: the memories, when the caller searched them already (beside loading the weights).
 */
export async function answerInput(a: Answerer, input: string, context: ExecutionContext | undefined, exploration: Exploration, random: () => number, retrieved?: Retrieved): Promise<Answer> {
  const { version, model, ensemble } = a;
  retrieved ??= await retrieve(a.memory, a.appId, a.agentId, version, input);
  const p = predict(model, modelText(input, context, version.params.context_features === true), ensemble);
  const text = (v: unknown) => (typeof v === "string" && v.length > 0 ? v : null);
  // What each retrieved memory could answer as, and the answer (a rule's, or a demo's expected output).
  const ruleOrder = retrieved
    .map((h, i) => ({ h, i }))
    .filter(({ h }) => h.memory.memoryType === "procedural" && text(h.memory.content.answer) && h.similarity >= RULE_MIN_SIMILARITY && h.memory.confidence >= RULE_MIN_CONFIDENCE)
    .sort((a, b) => b.h.memory.updatedAt - a.h.memory.updatedAt || b.h.memory.createdAt - a.h.memory.createdAt || (a.h.memory.id < b.h.memory.id ? -1 : 1))
    .map(({ i }) => i);
  const candidates: Candidate[] = retrieved.map((h, i) => {
    const demo = h.memory.content.type === "demo" && text(h.memory.content.expected_output) !== null;
    return { rule: ruleOrder.includes(i), correction: demo && h.memory.content.correction === true, demo, similarity: h.similarity, priority: Math.max(0, ruleOrder.indexOf(i)) };
  });
  const answers = retrieved.map((h, i) => (candidates[i].rule ? text(h.memory.content.answer) : text(h.memory.content.expected_output)));
  const settings = executionSettings(version.params);
  const decision = decideMemory(candidates, settings);
  const confident = p.confidence >= settings.confidence_threshold;
  const shown = decision.kind !== "policy" ? { action: null, propensity: null, explored: false } : chooseAction(p.probs, exploration, random(), random(), confident);
  const memoryIndex = decision.kind === "policy" ? decision.demo : decision.index;
  const source: AnswerSource = decision.kind === "rule" ? "rule" : shown.action !== null ? "model" : memoryIndex !== null ? "demo" : "fallback";
  const output = source === "model" ? model.classes[shown.action!] : memoryIndex !== null && source !== "fallback" ? answers[memoryIndex]! : version.params.fallback_answer;
  const classIndex = new Map(model.classes.map((c, i) => [c, i]));
  const dist = actionDistribution(p.probs, exploration, confident);
  const trace: ExecutionTrace = {
    hits: candidates.map((c, i) => traceHit(c, answers[i] === null ? null : answerKey(answers[i]!, classIndex))),
    no_class: Math.max(0, 1 - dist.reduce((s, x) => s + x, 0)),
  };
  const used = retrieved.slice(0, settings.memories_per_execution);
  const answering = memoryIndex !== null && source !== "model" && source !== "fallback" ? retrieved[memoryIndex] : null;
  return {
    output,
    confidence: source === "rule" ? answering!.memory.confidence : source === "demo" ? answering!.similarity : source === "model" ? p.probs[shown.action!] : p.confidence,
    class: source === "model" ? model.classes[shown.action!] : model.classes[p.class],
    fallback: source === "fallback",
    source,
    by: decision.kind,
    explored: shown.explored,
    memories_used: used.map((h) => ({ id: h.memory.id, memory_type: h.memory.memoryType, score: h.score, similarity: h.similarity })),
    top: p.class,
    topConfidence: p.confidence,
    action: shown.action,
    propensity: shown.propensity,
    trace,
    llm: null,
    llm_error: null,
  };
}

/**
 * The answer of a version whose answerer is `llm` or `hybrid` (src/llm/answer.ts):
 * the language model's when it should write it, else the local one; a hybrid
 * version keeps its local answer when the model fails.
 */
export async function withLanguageModel(
  local: Answer,
  llm: LlmDeps | undefined,
  appId: string,
  version: Version,
  classes: readonly string[],
  input: string,
  retrieved: Retrieved,
  onDelta?: (text: string) => void,
): Promise<Answer> {
  const s = version.params.answerer;
  if (!s || !wantsLanguageModel(s, local, version.params.confidence_threshold)) return local;
  try {
    if (!llm) throw noLanguageModel();
    const g = await languageModelAnswer(llm, appId, version, s, input, retrieved, onDelta);
    const own = classes.indexOf(g.text);
    return {
      ...local,
      output: g.text,
      source: "llm",
      // The class of the answer when it is one of the version's, else the network's best guess; no class was shown by the policy.
      class: own >= 0 ? classes[own] : local.class,
      fallback: false,
      explored: false,
      action: null,
      propensity: null,
      llm: { model: g.model, tokens_in: g.tokens_in, tokens_out: g.tokens_out, cost_usd: g.cost_usd, attempts: g.attempts, latency_ms: g.latency_ms },
    };
  } catch (e) {
    if (s.mode === "hybrid" && e instanceof DomainError) return { ...local, llm_error: e.message };
    throw e;
  }
}

/**
 * The version's whole answer to `input` as executeAgent gives it — memories,
 * network, demos, fallback, and its language model when its answerer has one
 * — without logging it (testAgent). `llm` absent: no model is reachable.
 */
export async function answerFully(a: Answerer, input: string, context: ExecutionContext | undefined, exploration: Exploration, random: () => number, llm?: LlmDeps): Promise<Answer> {
  const retrieved = await retrieve(a.memory, a.appId, a.agentId, a.version, input);
  const local = await answerInput(a, input, context, exploration, random, retrieved);
  return withLanguageModel(local, llm, a.appId, a.version, a.model.classes, input, retrieved);
}

/** The input, output and context as the execution log may keep them. */
async function loggedTexts(scrubber: Scrubber | null, input: string, output: string, context: ExecutionContext | undefined) {
  if (!scrubber?.policy.apply_to.executions) return { input, output, context: context ?? null };
  const text = async (t: string) => {
    const r = await scrub(scrubber, t);
    return r.text ?? `<dropped: ${[...new Set(r.found)].join(", ")}>`;
  };
  const ctx = context ? Object.fromEntries(await Promise.all(Object.entries(context).map(async ([k, v]) => [k, typeof v === "string" ? await text(v) : v] as const))) : null;
  return { input: await text(input), output: await text(output), context: ctx };
}

export async function executeAgent(
  db: Db,
  checkpoints: R2Bucket,
  memory: MemoryServices,
  req: ExecuteRequest,
  newId: () => string,
  random: () => number = Math.random,
  llm?: LlmDeps,
): Promise<ExecuteResult> {
  const started = performance.now();
  // The agent and any rollout or experiment splitting its live version's traffic, in one query (an explicit version is never routed).
  const { agent, split, pii } = await agentWithSplit(db, req.appId, req.agentId);
  const routed = split && req.version === undefined ? route(split, req.userId ?? req.input) : null;
  const version = routed ? await versionById(db, agent, routed.versionId) : await resolveVersion(db, agent, req.version);
  const caching = cacheOn(agent.executionCache, agent.exploration) ? agent.executionCache : null;
  // The key is a digest of the normalized input: no input is stored in the cache, whatever the PII policy.
  const at: CacheAddress | null = caching && { appId: req.appId, agentId: agent.id, versionId: version.id, key: await sha256Hex(new TextEncoder().encode(cacheKey(req.input, req.context, version.params.context_features === true))) };
  const stored = at && caching ? CachedAnswerSchema.safeParse(await readCache(db, at, caching.ttl_seconds, Date.now())) : null;
  let a: Answer;
  if (stored?.success) a = stored.data;
  else {
    // The weights and the memories at once.
    const [answerer, retrieved] = await Promise.all([answererFor(checkpoints, memory, req.appId, agent.id, version), retrieve(memory, req.appId, agent.id, version, req.input)]);
    a = await answerInput(answerer, req.input, req.context, agent.exploration ?? NO_EXPLORATION, random, retrieved);
    a = await withLanguageModel(a, llm, req.appId, version, answerer.model.classes, req.input, retrieved, req.onDelta);
  }
  const cached = stored?.success === true;
  const result: ExecuteResult = {
    execution_id: newId(),
    output: a.output,
    confidence: a.confidence,
    class: a.class,
    fallback: a.fallback,
    source: a.source,
    explored: a.explored,
    version: version.version,
    latency_ms: performance.now() - started,
    memories_used: a.memories_used,
    cached,
    // A cached answer cost nothing this time.
    llm: a.llm && (cached ? { ...a.llm, tokens_in: 0, tokens_out: 0, cost_usd: 0, attempts: 0, latency_ms: 0 } : a.llm),
    llm_error: a.llm_error,
  };
  const now = Date.now();
  // What is logged: scrubbed when the app's PII policy covers execution logs (the answer above used the raw input).
  const logged = await loggedTexts(await scrubberOf(pii), req.input, result.output, req.context);
  const record = db.insert(executions).values({
    id: result.execution_id,
    appId: req.appId,
    agentId: agent.id,
    versionId: version.id,
    input: logged.input,
    output: logged.output,
    classIndex: a.top,
    confidence: a.topConfidence,
    fallback: result.fallback,
    latencyMs: result.latency_ms,
    source: a.source,
    action: a.action,
    propensity: a.propensity,
    explored: a.explored,
    context: logged.context,
    trace: a.trace,
    userId: req.userId ?? null,
    route: routed?.route ?? null,
    cached: result.cached,
    tokens: result.llm ? result.llm.tokens_in + result.llm.tokens_out : 0,
    costUsd: result.llm?.cost_usd ?? 0,
    llmModel: result.llm?.model ?? null,
    createdAt: now,
  });
  // A fresh answer is stored with its record (never an explored one: cacheOn keeps exploring agents out).
  if (at && !result.cached && !a.explored) await db.batch([record, writeCache(db, at, { ...a }, now)]);
  else await record;
  return result;
}
