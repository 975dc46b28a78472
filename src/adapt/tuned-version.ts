/**
 * A tuned version: the live version's network and memories with other
 * execution settings (performance_tuning, and the optimizer's context
 * pruning). No weights change, so it needs no training: a finished run of one
 * step records where it came from, and the version points at the same
 * checkpoint and reads its base's learned memories.
 */
import { sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { agentVersions, trainingRuns, type VersionMetrics, type VersionParams } from "../db/schema.ts";
import { memoriesVersionOf, type Version } from "../agent/versions.ts";
import { versionIdOf, type Run } from "../training/runs.ts";

export interface TunedVersion {
  appId: string;
  agentId: string;
  live: Version;
  baseRun: Run;
  runId: string;
  /** What made it: the run's training type and the version's kind. */
  kind: string;
  params: VersionParams;
  metrics: VersionMetrics;
  now: number;
}

/** The run's and the version's inserts (batch them with whatever records the decision); the version number is the agent's next. */
export function tunedVersionInserts(db: Db, t: TunedVersion) {
  const versionId = versionIdOf(t.runId);
  return {
    versionId,
    inserts: [
      db.insert(trainingRuns).values({
        id: t.runId,
        appId: t.appId,
        agentId: t.agentId,
        status: "succeeded",
        trainingType: t.kind,
        datasetId: t.baseRun.datasetId,
        config: t.baseRun.config,
        plan: { ...t.baseRun.plan, train_steps: 0, total_steps: 1 },
        seq: 1,
        trainingDone: true,
        versionId,
        createdAt: t.now,
        startedAt: t.now,
        finishedAt: t.now,
        updatedAt: t.now,
      }),
      db.insert(agentVersions).values({
        id: versionId,
        appId: t.appId,
        agentId: t.agentId,
        version: sql<number>`(SELECT COALESCE(MAX(${agentVersions.version}), 0) + 1 FROM ${agentVersions} WHERE ${agentVersions.appId} = ${t.appId} AND ${agentVersions.agentId} = ${t.agentId})`,
        runId: t.runId,
        checkpointKey: t.live.checkpointKey,
        weightsSha256: t.live.weightsSha256,
        classes: t.live.classes,
        params: t.params,
        metrics: t.metrics,
        kind: t.kind,
        baseVersionId: t.live.id,
        // The same network: the same learned patterns and demos.
        memoriesVersionId: memoriesVersionOf(t.live),
        createdAt: t.now,
      }),
    ] as const,
  };
}
