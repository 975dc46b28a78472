/** The public view of an agent's versions, with their labels and deployment history. */
import { and, desc, eq, lt } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "../db/client.ts";
import { agentVersions, trafficSplits } from "../db/schema.ts";
import type { Agent, Version } from "../agent/versions.ts";
import { deploymentHistory } from "./history.ts";

export const VERSION_LABELS = ["live", "candidate"] as const;

export const VersionSummarySchema = z.object({
  version: z.number().int(),
  label: z.enum(VERSION_LABELS).describe("live: executeAgent answers with it; candidate: it waits for promotion, a rollout or an experiment"),
  traffic_share: z.number().describe("Share of executions it answers now (a rollout or experiment splits traffic)"),
  kind: z.string().describe("What made it: training, or an adaptation strategy"),
  base_version: z.number().int().nullable().describe("The version an adaptation started from"),
  run_id: z.string(),
  classes: z.number().int(),
  evaluation: z.record(z.string(), z.number()).nullable().describe("Scores of the latest testAgent of this version, per criterion"),
  created_at: z.string(),
});

export const VersionDetailSchema = VersionSummarySchema.extend({
  params: z.record(z.string(), z.unknown()).describe("How it answers: confidence threshold, fallback answer, temperature, memories used, demo similarity"),
  metrics: z.record(z.string(), z.unknown()).describe("What its training measured (weights, training fit, validation, temperature), its adaptation's gate, and its latest evaluation"),
});

export const DeploymentViewSchema = z.object({
  from_version: z.number().int().nullable(),
  to_version: z.number().int(),
  action: z.string(),
  actor: z.string(),
  reason: z.string(),
  at: z.string(),
});

type Summary = z.output<typeof VersionSummarySchema>;

/** The share of traffic each version answers now. */
async function shares(db: Db, agent: Agent): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (agent.activeVersionId) out.set(agent.activeVersionId, 1);
  const split = await db.query.trafficSplits.findFirst({ where: and(eq(trafficSplits.appId, agent.appId), eq(trafficSplits.agentId, agent.id), eq(trafficSplits.status, "active")) });
  if (split) {
    out.set(split.controlVersionId, 1 - split.share);
    out.set(split.treatmentVersionId, split.share);
  }
  return out;
}

function summary(v: Version, agent: Agent, versionNumbers: Map<string, number>, share: Map<string, number>): Summary {
  const evaluation = v.metrics.evaluation?.scores ?? null;
  return {
    version: v.version,
    label: v.id === agent.activeVersionId ? "live" : "candidate",
    traffic_share: share.get(v.id) ?? 0,
    kind: v.kind,
    base_version: v.baseVersionId ? (versionNumbers.get(v.baseVersionId) ?? null) : null,
    run_id: v.runId,
    classes: v.classes.length,
    evaluation,
    created_at: new Date(v.createdAt).toISOString(),
  };
}

/** The agent's versions, newest first (`before`: only versions older than that number). */
export async function versionList(db: Db, agent: Agent, limit: number, before?: number): Promise<Summary[]> {
  const rows = await db
    .select()
    .from(agentVersions)
    .where(and(eq(agentVersions.appId, agent.appId), eq(agentVersions.agentId, agent.id), before !== undefined ? lt(agentVersions.version, before) : undefined))
    .orderBy(desc(agentVersions.version))
    .limit(limit);
  const numbers = await versionNumbers(db, agent);
  const share = await shares(db, agent);
  return rows.map((v) => summary(v, agent, numbers, share));
}

export async function versionDetail(db: Db, agent: Agent, v: Version): Promise<z.output<typeof VersionDetailSchema>> {
  const [numbers, share] = await Promise.all([versionNumbers(db, agent), shares(db, agent)]);
  return { ...summary(v, agent, numbers, share), params: { ...v.params }, metrics: { ...v.metrics } };
}

/** Version ids → numbers of one agent. */
export async function versionNumbers(db: Db, agent: Pick<Agent, "appId" | "id">): Promise<Map<string, number>> {
  const rows = await db.select({ id: agentVersions.id, version: agentVersions.version }).from(agentVersions).where(and(eq(agentVersions.appId, agent.appId), eq(agentVersions.agentId, agent.id)));
  return new Map(rows.map((r) => [r.id, r.version]));
}

export async function deploymentViews(db: Db, agent: Agent, limit = 20): Promise<z.output<typeof DeploymentViewSchema>[]> {
  const [history, numbers] = await Promise.all([deploymentHistory(db, agent.appId, agent.id, limit), versionNumbers(db, agent)]);
  return history.map((d) => ({
    from_version: d.fromVersionId ? (numbers.get(d.fromVersionId) ?? null) : null,
    to_version: numbers.get(d.toVersionId) ?? 0,
    action: d.action,
    actor: d.actor,
    reason: d.reason,
    at: new Date(d.createdAt).toISOString(),
  }));
}
