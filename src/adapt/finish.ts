/**
 * The end of an adaptation run (its final step, training/step.ts): the safety
 * gate judges the candidate on the held-out data, and the version it makes
 * carries the adapted version's answering settings, the gate's verdict and
 * what made it. The adaptation record is closed in the same batch as the
 * version (runs.ts commitFinal), so the two never disagree.
 */
import { and, eq, exists, sql, type SQL } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Db } from "../db/client.ts";
import { adaptations, agents, agentVersions, trainingRuns, type VersionParams } from "../db/schema.ts";
import type { AgentModel } from "../model/model.ts";
import type { GateReport } from "../model/adaptation.ts";
import type { Work } from "../model/work.ts";
import { offPolicyGate, supervisedGate } from "./gate.ts";
import type { AdaptationData } from "./run-data.ts";

type AdaptationRecord = typeof adaptations.$inferSelect;

export interface Judged {
  gate: GateReport;
  params: VersionParams;
  baseVersion: number;
  /** What commitFinal runs beside the version: the adaptation record closes. */
  alongside: (atPrevious: SQL) => BatchItem<"sqlite">[];
}

/** The gate's verdict on `model` (a pausable computation). */
export function* gateWork(data: AdaptationData, record: AdaptationRecord, model: AgentModel, base: AgentModel, seed: number): Work<GateReport> {
  if (data.strategy === "online") return yield* supervisedGate(model, base, data.holdout, record.autoPromote, seed);
  return yield* offPolicyGate({
    candidate: model,
    useContext: data.use_context,
    current: base,
    currentUsesContext: data.base.context_features,
    settings: data.base.settings,
    learn: data.learn,
    kinds: data.kinds,
    judge: data.judge,
    exploration: data.exploration,
    autoPromote: record.autoPromote,
    seed,
  });
}

/**
 * The version's settings and the record's closing statement. A version that
 * passed is promoted only while the version it adapts is still live (checked
 * here for the report, and again in commitFinal's SQL).
 */
export async function judged(db: Db, data: AdaptationData, record: AdaptationRecord, versionId: string, gate: GateReport, temperature: number, now: number): Promise<Judged> {
  const [base] = await db
    .select({ version: agentVersions.version, params: agentVersions.params })
    .from(agentVersions)
    .where(and(eq(agentVersions.appId, record.appId), eq(agentVersions.id, record.baseVersionId)))
    .limit(1);
  if (!base) throw new Error(`version ${record.baseVersionId} (the one adapted) is gone`);
  let verdict = gate;
  if (gate.promoted) {
    const [agent] = await db.select({ live: agents.activeVersionId }).from(agents).where(and(eq(agents.appId, record.appId), eq(agents.id, record.agentId))).limit(1);
    if (agent?.live !== record.baseVersionId) {
      verdict = { ...gate, promoted: false, reason: `${gate.reason}; but another version went live while it trained, so it stays a candidate (promoteVersion makes it live)` };
    }
  }
  const params: VersionParams = { ...base.params, temperature, context_features: data.strategy === "context_aware" };
  const status = verdict.promoted ? "promoted" : "candidate";
  return {
    gate: verdict,
    params,
    baseVersion: base.version,
    alongside: (atPrevious) => [
      db
        .update(adaptations)
        .set({ gate: verdict, status, candidateVersionId: versionId, finishedAt: now })
        .where(and(eq(adaptations.id, record.id), eq(adaptations.appId, record.appId), exists(db.select({ one: sql`1` }).from(trainingRuns).where(atPrevious)))),
    ],
  };
}
