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
import type { ExecutionTrace } from "../model/trace.ts";
import { predict } from "../model/model.ts";
import { actionDistribution, chooseAction, NO_EXPLORATION } from "../model/policy.ts";
import { modelText, type ExecutionContext } from "../model/context.ts";
import { searchMemories, type MemoryServices } from "../memory/store.ts";
import { findAgent, loadModel, memoriesVersionOf, resolveVersion } from "./versions.ts";
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
  const [{ model, ensemble }, retrieved] = await Promise.all([
    loadModel(checkpoints, version),
    searchMemories(memory, req.appId, { agentId: agent.id, query: req.input, topK: MAX_MEMORIES_RETRIEVED, versionId: memoriesVersionOf(version) }),
  ]);
  const p = predict(model, modelText(req.input, req.context, version.params.context_features === true), ensemble);
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
  const exploration = agent.exploration ?? NO_EXPLORATION;
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
  const result: ExecuteResult = {
    execution_id: newId(),
    output,
    confidence: source === "rule" ? answering!.memory.confidence : source === "demo" ? answering!.similarity : source === "model" ? p.probs[shown.action!] : p.confidence,
    class: source === "model" ? model.classes[shown.action!] : model.classes[p.class],
    fallback: source === "fallback",
    source,
    explored: shown.explored,
    version: version.version,
    latency_ms: performance.now() - started,
    memories_used: used.map((h) => ({ id: h.memory.id, memory_type: h.memory.memoryType, score: h.score, similarity: h.similarity })),
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
    trace,
    createdAt: Date.now(),
  });
  return result;
}
