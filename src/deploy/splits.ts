/**
 * Rollouts and experiments: a share of an agent's live traffic goes to
 * another version (routing.ts), and the cron looks at the arms' metric with
 * the always-valid sequential test (sequential.ts) — a rollout advances a step
 * when its gate holds and rolls back when the new version is significantly
 * worse; an experiment stops itself when decided (or at max_samples) and
 * promotes the winner or returns all traffic to the control, as asked. Every
 * state change is conditional on the state it was decided from, so two cron
 * invocations never advance a split twice; a promotion is a deployment record
 * written in the same batch.
 */
import { and, desc, eq, inArray, sql } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "../db/client.ts";
import { trafficSplits } from "../db/schema.ts";
import { conflict, invalidInput, notFound } from "../errors.ts";
import { violatesUnique } from "../db/limits.ts";
import { findAgent, resolveVersion } from "../agent/versions.ts";
import { EXPERIMENT_METRICS, metricSql, type ExperimentMetric } from "../feedback/sql.ts";
import { liveChange } from "./history.ts";
import type { Split } from "./routing.ts";
import { sequentialTest, type ArmStats, type SequentialResult } from "./sequential.ts";
import { versionNumbers } from "./versions-view.ts";

export const SplitSettingsSchema = z.object({
  metric: z.enum(EXPERIMENT_METRICS),
  alpha: z.number(),
  /** Mixture standard deviation of the effect (null: 10% of the control's mean, for latency). */
  tau: z.number().nullable(),
  /** Rollout: samples of the new version per step before it advances. */
  min_samples: z.number().int().optional(),
  /** Experiment: samples (both arms) after which it stops undecided. */
  max_samples: z.number().int().optional(),
  /** Experiment: what to do when decided. */
  on_decision: z.enum(["promote", "none"]).optional(),
});
export type SplitSettings = z.output<typeof SplitSettingsSchema>;

export const LookSchema = z.object({
  control: z.object({ n: z.number().int(), mean: z.number() }),
  treatment: z.object({ n: z.number().int(), mean: z.number() }),
  difference: z.number().describe("treatment − control"),
  interval: z.object({ lower: z.number().nullable(), upper: z.number().nullable() }).describe("Always-valid 95% (1 − alpha) interval of the difference"),
  p_value: z.number().describe("Always-valid p-value: the smallest over every look so far"),
  decision: z.string().nullable(),
  reason: z.string(),
  at: z.string(),
});
export type Look = z.output<typeof LookSchema>;

export const DEFAULT_TAU: Record<ExperimentMetric, number | null> = { success: 0.05, satisfaction: 0.05, latency: null };

/** Per arm: executions routed by the split since `since` whose metric is known: n, Σx, Σx². */
export async function armStats(db: Db, split: Split, metric: ExperimentMetric, since: number): Promise<Record<"control" | "treatment", ArmStats>> {
  const routes = [`${split.id}:control`, `${split.id}:treatment`];
  const rows = await db.all<{ route: string; n: number; sum: number | null; sum_sq: number | null }>(sql`
    SELECT route, count(x) AS n, sum(x) AS sum, sum(x * x) AS sum_sq FROM (
      SELECT e.route AS route, ${metricSql(metric)} AS x
      FROM executions e LEFT JOIN feedback f ON f.app_id = e.app_id AND f.execution_id = e.id
      WHERE e.app_id = ${split.appId} AND e.route IN (${routes[0]}, ${routes[1]}) AND e.created_at >= ${since}
    ) WHERE x IS NOT NULL GROUP BY route`);
  const of = (route: string): ArmStats => {
    const r = rows.find((x) => x.route === route);
    return { n: r?.n ?? 0, sum: r?.sum ?? 0, sumSq: r?.sum_sq ?? 0 };
  };
  return { control: of(routes[0]), treatment: of(routes[1]) };
}

/** Better for the treatment: a higher mean, or for latency a lower one. */
const better = (metric: ExperimentMetric, d: number) => (metric === "latency" ? d < 0 : d > 0);

/** A look at the split now: the test on the arms, with the running minimum of the p-value. */
export async function look(db: Db, split: Split): Promise<{ test: SequentialResult; pMin: number }> {
  const s = SplitSettingsSchema.parse(split.settings);
  const arms = await armStats(db, split, s.metric, split.stepStartedAt);
  const controlMean = arms.control.n > 0 ? arms.control.sum / arms.control.n : 0;
  const tau = s.tau ?? Math.max(1, 0.1 * controlMean);
  const test = sequentialTest(arms.control, arms.treatment, tau, s.alpha);
  const previous = split.result && typeof split.result.p_value === "number" ? split.result.p_value : 1;
  return { test, pMin: Math.min(previous, test.p_value) };
}

const finite = (x: number) => (Number.isFinite(x) ? x : null);

function lookRecord(test: SequentialResult, pMin: number, decision: string | null, reason: string, now: number): Look {
  return {
    control: test.control,
    treatment: test.treatment,
    difference: test.difference,
    interval: { lower: finite(test.interval.lower), upper: finite(test.interval.upper) },
    p_value: pMin,
    decision,
    reason,
    at: new Date(now).toISOString(),
  };
}

export interface StartSplit {
  appId: string;
  agentId: string;
  id: string;
  kind: "rollout" | "experiment";
  treatment: number;
  control?: number;
  share: number;
  steps: number[] | null;
  settings: SplitSettings;
  now: number;
}

export async function startSplit(db: Db, req: StartSplit): Promise<Split> {
  const agent = await findAgent(db, req.appId, req.agentId);
  if (!agent.activeVersionId) throw conflict("no_version", `agent '${agent.id}' has no live version to compare with`);
  const live = await resolveVersion(db, agent);
  const control = req.control === undefined ? live : await resolveVersion(db, agent, req.control);
  if (control.id !== live.id) throw conflict("control_not_live", `the control must be the live version (${live.version}); promote version ${control.version} first or leave control out`);
  const treatment = await resolveVersion(db, agent, req.treatment);
  if (treatment.id === live.id) throw invalidInput([{ path: req.kind === "rollout" ? "version" : "treatment", message: `version ${treatment.version} is already live` }]);
  const row: Split = {
    id: req.id,
    appId: req.appId,
    agentId: agent.id,
    kind: req.kind,
    controlVersionId: control.id,
    treatmentVersionId: treatment.id,
    share: req.share,
    steps: req.steps,
    stepIndex: 0,
    settings: req.settings,
    status: "active",
    result: null,
    stepStartedAt: req.now,
    createdAt: req.now,
    updatedAt: req.now,
  };
  try {
    await db.insert(trafficSplits).values(row);
  } catch (e) {
    if (violatesUnique(e, "traffic_splits.app_id, traffic_splits.agent_id")) {
      throw conflict("split_in_progress", `agent '${agent.id}' already has an active rollout or experiment; stop it first (stopTrafficSplit)`);
    }
    throw e;
  }
  return row;
}

/** The statements that move `split` from the state it was read in (nothing happens if another invocation moved it first). */
function transition(db: Db, split: Split, set: Partial<Split>, now: number) {
  return db
    .update(trafficSplits)
    .set({ ...set, updatedAt: now })
    .where(and(eq(trafficSplits.id, split.id), eq(trafficSplits.status, "active"), eq(trafficSplits.stepIndex, split.stepIndex), eq(trafficSplits.updatedAt, split.updatedAt)));
}

/** Ends the split with the treatment live (a deployment record beside it), only while the control is still live. */
async function promoteTreatment(db: Db, split: Split, result: Look, now: number, reason: string): Promise<boolean> {
  const [moved] = await db.batch([
    transition(db, split, { status: "completed", share: 1, result }, now),
    ...liveChange(db, {
      appId: split.appId,
      agentId: split.agentId,
      toVersionId: split.treatmentVersionId,
      action: split.kind,
      actor: "cron",
      reason,
      recordId: `dep_${split.id}`,
      now,
      whileLive: split.controlVersionId,
      when: sql`EXISTS (SELECT 1 FROM ${trafficSplits} WHERE ${trafficSplits.id} = ${split.id} AND ${trafficSplits.status} = 'completed' AND ${trafficSplits.updatedAt} = ${now})`,
    }),
  ]);
  return moved.meta.changes > 0;
}

export type CheckOutcome = "waiting" | "advanced" | "promoted" | "rolled_back" | "decided" | "stopped";

/** The cron's look at one active split, and what it did. */
export async function checkSplit(db: Db, split: Split, now: number): Promise<CheckOutcome> {
  const s = SplitSettingsSchema.parse(split.settings);
  const { test, pMin } = await look(db, split);
  const significant = pMin <= s.alpha;
  const worse = significant && better(s.metric, -test.difference);
  const betterNow = significant && better(s.metric, test.difference);
  if (split.kind === "rollout") {
    if (worse) {
      const r = lookRecord(test, pMin, "rolled_back", `the new version is significantly worse on ${s.metric} (always-valid p = ${pMin.toPrecision(2)}): all traffic back to the live version`, now);
      await transition(db, split, { status: "rolled_back", share: 0, result: r }, now);
      return "rolled_back";
    }
    const min = s.min_samples ?? 0;
    if (test.treatment.n < min || test.control.n < 2) {
      await transition(db, split, { result: lookRecord(test, pMin, null, `step ${split.stepIndex + 1}: ${test.treatment.n} of ${min} samples of the new version`, now) }, now);
      return "waiting";
    }
    const steps = split.steps ?? [1];
    const next = split.stepIndex + 1;
    const holds = `step ${split.stepIndex + 1} (${Math.round(split.share * 100)}%) held: ${test.treatment.n} samples, not significantly worse on ${s.metric}`;
    if (next >= steps.length || steps[next] >= 1) {
      const r = lookRecord(test, pMin, "promoted", `${holds}; the new version is live`, now);
      return (await promoteTreatment(db, split, r, now, `rollout ${split.id}: ${holds}`)) ? "promoted" : "waiting";
    }
    // A new step is a new test: its p-value starts over on the samples it collects.
    const r = lookRecord(test, pMin, "advanced", `${holds}; now ${Math.round(steps[next] * 100)}%`, now);
    await transition(db, split, { stepIndex: next, share: steps[next], stepStartedAt: now, result: { ...r, p_value: 1 } }, now);
    return "advanced";
  }
  if (betterNow || worse) {
    const winner = betterNow ? "treatment" : "control";
    const why = `${winner} is significantly better on ${s.metric} (always-valid p = ${pMin.toPrecision(2)}, difference ${test.difference.toPrecision(3)})`;
    if (betterNow && s.on_decision === "promote") {
      return (await promoteTreatment(db, split, lookRecord(test, pMin, "treatment_better", `${why}: the treatment is live`, now), now, `experiment ${split.id}: ${why}`)) ? "promoted" : "waiting";
    }
    const r = lookRecord(test, pMin, `${winner}_better`, betterNow ? `${why}; on_decision is "none": all traffic back to the control until promoted by hand` : `${why}: all traffic back to the control`, now);
    await transition(db, split, { status: betterNow ? "completed" : "rolled_back", share: 0, result: r }, now);
    return "decided";
  }
  if (test.control.n + test.treatment.n >= (s.max_samples ?? Infinity)) {
    const r = lookRecord(test, pMin, "no_difference", `${test.control.n + test.treatment.n} samples (max_samples) without a significant difference on ${s.metric}: all traffic back to the control`, now);
    await transition(db, split, { status: "completed", share: 0, result: r }, now);
    return "stopped";
  }
  await transition(db, split, { result: lookRecord(test, pMin, null, `${test.control.n + test.treatment.n} samples, no significant difference yet`, now) }, now);
  return "waiting";
}

/** The cron: every active split, a bounded number per invocation. */
export async function checkActiveSplits(db: Db, now: number, limit = 50): Promise<Record<string, CheckOutcome>> {
  const active = await db.select().from(trafficSplits).where(eq(trafficSplits.status, "active")).orderBy(trafficSplits.updatedAt).limit(limit);
  const out: Record<string, CheckOutcome> = {};
  for (const split of active) out[split.id] = await checkSplit(db, split, now);
  return out;
}

export async function stopSplit(db: Db, appId: string, id: string, reason: string, now: number): Promise<Split> {
  const split = await findSplit(db, appId, id);
  if (split.status !== "active") throw conflict("split_not_active", `${split.kind} ${id} has already ended (${split.status})`);
  // The arms as of the stop: a split the cron never looked at has no result yet (a bare {decision, reason} made its view fail).
  const { test, pMin } = await look(db, split);
  await db
    .update(trafficSplits)
    .set({ status: "stopped", share: 0, updatedAt: now, result: lookRecord(test, pMin, "stopped", reason, now) })
    .where(and(eq(trafficSplits.id, id), inArray(trafficSplits.status, ["active"])));
  return findSplit(db, appId, id);
}

export async function findSplit(db: Db, appId: string, id: string): Promise<Split> {
  const split = await db.query.trafficSplits.findFirst({ where: and(eq(trafficSplits.appId, appId), eq(trafficSplits.id, id)) });
  if (!split) throw notFound(id.startsWith("rol_") ? "rollout" : "experiment", id);
  return split;
}

export const SplitViewSchema = z.object({
  id: z.string(),
  kind: z.enum(["rollout", "experiment"]),
  agent_id: z.string(),
  control_version: z.number().int(),
  treatment_version: z.number().int(),
  status: z.enum(["active", "completed", "rolled_back", "stopped"]),
  share: z.number().describe("The treatment's share of traffic now"),
  steps: z.array(z.number()).nullable(),
  step: z.number().int().nullable().describe("Rollout: the current step (1-based)"),
  settings: z.record(z.string(), z.unknown()),
  look: LookSchema.nullable().describe("Both arms, the estimate, the interval and the decision, as of now (active) or of the decision"),
  created_at: z.string(),
  updated_at: z.string(),
});
export type SplitView = z.output<typeof SplitViewSchema>;

/** A split as of `now` (an active one is looked at now); `numbers`: its agent's version numbers when already read. */
export async function splitView(db: Db, split: Split, now: number, numbers?: Map<string, number>): Promise<SplitView> {
  numbers ??= await versionNumbers(db, { appId: split.appId, id: split.agentId });
  let current: Look | null = split.result ? LookSchema.parse(split.result) : null;
  if (split.status === "active") {
    const { test, pMin } = await look(db, split);
    current = lookRecord(test, pMin, null, current?.reason ?? "collecting samples", now);
  }
  return {
    id: split.id,
    kind: split.kind,
    agent_id: split.agentId,
    control_version: numbers.get(split.controlVersionId) ?? 0,
    treatment_version: numbers.get(split.treatmentVersionId) ?? 0,
    status: split.status,
    share: split.share,
    steps: split.steps,
    step: split.kind === "rollout" ? split.stepIndex + 1 : null,
    settings: split.settings,
    look: current,
    created_at: new Date(split.createdAt).toISOString(),
    updated_at: new Date(split.updatedAt).toISOString(),
  };
}

/** An agent's rollouts and experiments, newest first (of one kind when given). */
export async function splitViews(db: Db, appId: string, agentId: string, limit: number, now: number, kind?: Split["kind"]): Promise<SplitView[]> {
  await findAgent(db, appId, agentId);
  const [splits, numbers] = await Promise.all([
    db
      .select()
      .from(trafficSplits)
      .where(and(eq(trafficSplits.appId, appId), eq(trafficSplits.agentId, agentId), kind ? eq(trafficSplits.kind, kind) : undefined))
      .orderBy(desc(trafficSplits.createdAt), desc(trafficSplits.id))
      .limit(limit),
    versionNumbers(db, { appId, id: agentId }),
  ]);
  return Promise.all(splits.map((s) => splitView(db, s, now, numbers)));
}
