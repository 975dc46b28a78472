/**
 * Executing an agent with the built-in local model (DESIGN.md sections 4, 5, 7):
 * the agent's relevant memories are retrieved first; then the answer is
 *   1. a procedural rule's answer, when a trusted rule matches the input well
 *      (rules that match about equally well are one trigger: the newest answers);
 *   2. else a correction from feedback (a demo marked `correction`) when it
 *      matches the input almost exactly (the same question, answered anew);
 *   3. else what the agent's policy shows (model/policy.ts): with probability
 *      `rate` (exploration, opt-in per agent) a class drawn by the strategy,
 *      otherwise the predicted class when the network's calibrated confidence
 *      clears the version's threshold;
 *   4. when no class is shown, the nearest demo's answer when one is similar
 *      enough, else an explicit fallback.
 * Every execution is recorded with its latency, the memories it used, and —
 * for off-policy learning — the class shown, its propensity, whether it was
 * explored, and the context.
 */
import type { Db } from "../db/client.ts";
import { executions } from "../db/schema.ts";
import { predict } from "../model/model.ts";
import { chooseAction, NO_EXPLORATION } from "../model/policy.ts";
import { modelText, type ExecutionContext } from "../model/context.ts";
import { searchMemories, type MemoryServices } from "../memory/store.ts";
import { findAgent, loadModel, resolveVersion } from "./versions.ts";

/** A procedural rule answers when it is this similar to the input and this trusted. */
export const RULE_MIN_SIMILARITY = 0.5;
export const RULE_MIN_CONFIDENCE = 0.8;
/** A demo answers (when no class is shown) from this similarity on. */
export const DEMO_MIN_SIMILARITY = 0.6;
export const MEMORIES_PER_EXECUTION = 5;
/** A correction from feedback answers (before the network) from this similarity on: the same question. */
export const CORRECTION_MIN_SIMILARITY = 0.9;
/** Rules within this similarity of the best matching rule share its trigger: the most recently changed one answers. */
export const RULE_TIE_SIMILARITY = 0.05;

export interface ExecuteRequest {
  appId: string;
  agentId: string;
  input: string;
  version?: number;
  context?: ExecutionContext;
}

export type AnswerSource = "rule" | "model" | "demo" | "fallback";

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
}

export async function executeAgent(
  db: Db,
  checkpoints: R2Bucket,
  memory: MemoryServices,
  req: ExecuteRequest,
  newId: () => string,
  random: () => number = Math.random,
): Promise<ExecuteResult> {
  const started = performance.now();
  const agent = await findAgent(db, req.appId, req.agentId);
  const version = await resolveVersion(db, agent, req.version);
  const [{ model, ensemble }, hits] = await Promise.all([
    loadModel(checkpoints, version),
    searchMemories(memory, req.appId, { agentId: agent.id, query: req.input, topK: MEMORIES_PER_EXECUTION, versionId: version.id }),
  ]);
  const p = predict(model, modelText(req.input, req.context, version.params.context_features === true), ensemble);
  const text = (v: unknown) => (typeof v === "string" && v.length > 0 ? v : null);
  const rules = hits.filter((h) => h.memory.memoryType === "procedural" && text(h.memory.content.answer) && h.similarity >= RULE_MIN_SIMILARITY && h.memory.confidence >= RULE_MIN_CONFIDENCE);
  const bestRule = Math.max(...rules.map((h) => h.similarity));
  const rule = rules
    .filter((h) => h.similarity >= bestRule - RULE_TIE_SIMILARITY)
    .sort((a, b) => b.memory.updatedAt - a.memory.updatedAt || b.memory.createdAt - a.memory.createdAt || (a.memory.id < b.memory.id ? -1 : 1))[0];
  const correction = hits.find((h) => h.memory.content.correction === true && text(h.memory.content.expected_output) && h.similarity >= CORRECTION_MIN_SIMILARITY);
  const demo = correction ?? hits.find((h) => h.memory.content.type === "demo" && text(h.memory.content.expected_output) && h.similarity >= DEMO_MIN_SIMILARITY);
  const confident = p.confidence >= version.params.confidence_threshold;
  const shown = rule || correction ? { action: null, propensity: null, explored: false } : chooseAction(p.probs, agent.exploration ?? NO_EXPLORATION, random(), random(), confident);
  const source: AnswerSource = rule ? "rule" : shown.action !== null ? "model" : demo ? "demo" : "fallback";
  const output =
    source === "rule"
      ? text(rule!.memory.content.answer)!
      : source === "model"
        ? model.classes[shown.action!]
        : source === "demo"
          ? text(demo!.memory.content.expected_output)!
          : version.params.fallback_answer;
  const result: ExecuteResult = {
    execution_id: newId(),
    output,
    confidence: source === "rule" ? rule!.memory.confidence : source === "demo" ? demo!.similarity : source === "model" ? p.probs[shown.action!] : p.confidence,
    class: source === "model" ? model.classes[shown.action!] : model.classes[p.class],
    fallback: source === "fallback",
    source,
    explored: shown.explored,
    version: version.version,
    latency_ms: performance.now() - started,
    memories_used: hits.map((h) => ({ id: h.memory.id, memory_type: h.memory.memoryType, score: h.score, similarity: h.similarity })),
  };
  await db.insert(executions).values({
    id: result.execution_id,
    appId: req.appId,
    agentId: agent.id,
    versionId: version.id,
    input: req.input,
    output: result.output,
    classIndex: p.class,
    confidence: p.confidence,
    fallback: result.fallback,
    latencyMs: result.latency_ms,
    source,
    action: shown.action,
    propensity: shown.propensity,
    explored: shown.explored,
    context: req.context ?? null,
    createdAt: Date.now(),
  });
  return result;
}
