/**
 * Executing an agent with the built-in local model (DESIGN.md section 4):
 * the predicted class's answer when the calibrated confidence clears the
 * version's threshold, else an explicit fallback. Every execution is recorded.
 */
import type { Db } from "../db/client.ts";
import { executions } from "../db/schema.ts";
import { predict } from "../model/model.ts";
import { findAgent, loadModel, resolveVersion } from "./versions.ts";

export interface ExecuteRequest {
  appId: string;
  agentId: string;
  input: string;
  version?: number;
}

export interface ExecuteResult {
  execution_id: string;
  output: string;
  confidence: number;
  class: string;
  fallback: boolean;
  version: number;
  latency_ms: number;
}

export async function executeAgent(db: Db, checkpoints: R2Bucket, req: ExecuteRequest, newId: () => string): Promise<ExecuteResult> {
  const started = performance.now();
  const agent = await findAgent(db, req.appId, req.agentId);
  const version = await resolveVersion(db, agent, req.version);
  const { model, net } = await loadModel(checkpoints, version);
  const p = predict(model, req.input, net);
  const fallback = p.confidence < version.params.confidence_threshold;
  const label = model.classes[p.class];
  const result: ExecuteResult = {
    execution_id: newId(),
    output: fallback ? version.params.fallback_answer : label,
    confidence: p.confidence,
    class: label,
    fallback,
    version: version.version,
    latency_ms: performance.now() - started,
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
    fallback,
    latencyMs: result.latency_ms,
    createdAt: Date.now(),
  });
  return result;
}
