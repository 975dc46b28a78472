/** D1 access for training runs: creation, reads, and the conditional transitions of steps. */
import { and, asc, eq, exists, inArray, lt, sql, type SQL } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { liveChange } from "../deploy/history.ts";
import { pointsWhile } from "../metrics/record.ts";
import type { Db } from "../db/client.ts";
import { agents, datasets, runEpochs, runShards, runSteps, trainingRuns, agentVersions, type RunStatus } from "../db/schema.ts";
import type { EpochMetrics } from "../model/trainer.ts";
import type { NewDatasetRow } from "../data/datasets.ts";

export type Run = typeof trainingRuns.$inferSelect;
export type NewRun = typeof trainingRuns.$inferInsert;
export type NewVersion = typeof agentVersions.$inferInsert;

export const ACTIVE: RunStatus[] = ["queued", "running"];
export const TERMINAL: RunStatus[] = ["succeeded", "failed", "cancelled"];

/** Dataset row (when given and new), agent (if new) and run, in one atomic batch. */
export async function createRun(db: Db, dataset: NewDatasetRow | null, run: NewRun): Promise<void> {
  const agent = db.insert(agents).values({ appId: run.appId, id: run.agentId, updatedAt: run.updatedAt }).onConflictDoNothing();
  const insertRun = db.insert(trainingRuns).values(run);
  await (dataset ? db.batch([db.insert(datasets).values(dataset).onConflictDoNothing(), agent, insertRun]) : db.batch([agent, insertRun]));
}

export async function findRun(db: Db, runId: string, appId?: string): Promise<Run | undefined> {
  return db.query.trainingRuns.findFirst({
    where: appId === undefined ? eq(trainingRuns.id, runId) : and(eq(trainingRuns.id, runId), eq(trainingRuns.appId, appId)),
  });
}

export async function runEpochMetrics(db: Db, runId: string): Promise<EpochMetrics[]> {
  const rows = await db.select().from(runEpochs).where(eq(runEpochs.runId, runId)).orderBy(asc(runEpochs.epoch));
  return rows.map((r) => ({ epoch: r.epoch, train_loss: r.trainLoss, valid_loss: r.validLoss, valid_accuracy: r.validAccuracy }));
}

export async function markRunning(db: Db, runId: string, now: number): Promise<void> {
  await db
    .update(trainingRuns)
    .set({ status: "running", startedAt: now, updatedAt: now })
    .where(and(eq(trainingRuns.id, runId), eq(trainingRuns.status, "queued")));
}

export interface StepCommit {
  runId: string;
  seq: number;
  epoch: number;
  examples: number;
  trainLoss: number;
  ms: number;
  bestEpoch: number | null;
  trainingDone: boolean;
  /** The step belongs to the refit phase. */
  refitting: boolean;
  epochs: EpochMetrics[];
  now: number;
}

/** A bound value selected as a named column (for INSERT … SELECT). */
const v = <T>(value: T, column: string) => sql<T>`${value}`.as(column);

/**
 * Advances the run from seq-1 to seq, with the step's metrics, atomically —
 * only if the run is still running at seq-1. Returns whether it advanced.
 */
export async function commitStep(db: Db, c: StepCommit): Promise<boolean> {
  // Inserts select from the run row, so they add nothing unless the run advanced to seq.
  const advanced = and(eq(trainingRuns.id, c.runId), eq(trainingRuns.seq, c.seq));
  const [update] = await db.batch([
    db
      .update(trainingRuns)
      .set({ seq: c.seq, epoch: c.epoch, bestEpoch: c.bestEpoch, trainingDone: c.trainingDone, refitting: c.refitting, updatedAt: c.now, lastError: null })
      .where(and(eq(trainingRuns.id, c.runId), eq(trainingRuns.seq, c.seq - 1), eq(trainingRuns.status, "running"))),
    db
      .insert(runSteps)
      .select(
        db
          .select({
            appId: trainingRuns.appId,
            runId: trainingRuns.id,
            seq: trainingRuns.seq,
            epoch: v(c.epoch, "epoch"),
            examples: v(c.examples, "examples"),
            trainLoss: v(c.trainLoss, "train_loss"),
            ms: v(c.ms, "ms"),
            createdAt: v(c.now, "created_at"),
          })
          .from(trainingRuns)
          .where(advanced),
      )
      .onConflictDoNothing(),
    ...c.epochs.map((e) =>
      db
        .insert(runEpochs)
        .select(
          db
            .select({
              appId: trainingRuns.appId,
              runId: trainingRuns.id,
              epoch: v(e.epoch, "epoch"),
              trainLoss: v(e.train_loss, "train_loss"),
              validLoss: v(e.valid_loss, "valid_loss"),
              validAccuracy: v(e.valid_accuracy, "valid_accuracy"),
              createdAt: v(c.now, "created_at"),
            })
            .from(trainingRuns)
            .where(advanced),
        )
        .onConflictDoNothing(),
    ),
  ]);
  return update.meta.changes > 0;
}

export type ShardRow = typeof runShards.$inferInsert;

/** The shards of round `seq` whose results are written. */
export async function recordedShards(db: Db, runId: string, seq: number): Promise<number[]> {
  const rows = await db
    .select({ shard: runShards.shard })
    .from(runShards)
    .where(and(eq(runShards.runId, runId), eq(runShards.seq, seq)))
    .orderBy(asc(runShards.shard));
  return rows.map((r) => r.shard);
}

/**
 * Records a shard's written result and, in the same batch, claims the round's
 * aggregation when this makes the round complete: the run is still running
 * at seq-1, its last claimed round is older, and all `shards` rows exist.
 * Exactly one call per round claims it, however many shards finish at once
 * or are redelivered. Returns whether this call claimed it.
 */
export async function recordShard(db: Db, row: ShardRow, shards: number): Promise<boolean> {
  const complete = sql`(SELECT count(*) FROM ${runShards} WHERE ${runShards.runId} = ${row.runId} AND ${runShards.seq} = ${row.seq}) >= ${shards}`;
  const [, claim] = await db.batch([
    db.insert(runShards).values(row).onConflictDoNothing(),
    db
      .update(trainingRuns)
      .set({ aggregating: row.seq })
      .where(and(eq(trainingRuns.id, row.runId), eq(trainingRuns.seq, row.seq - 1), eq(trainingRuns.status, "running"), lt(trainingRuns.aggregating, row.seq), complete)),
  ]);
  return claim.meta.changes > 0;
}

/** What the final step of an adaptation run commits beside its version. */
export interface FinalExtras {
  /** Make the version live (a training run: when deployed immediately or the agent has none; an adaptation run: when its gate passed). */
  promote: boolean;
  /** Only when the agent has no live version yet (a training run deployed as a candidate). */
  onlyIfNone?: boolean;
  /** Why, for the deployment record. */
  reason?: string;
  /** Statements to run in the same batch, only while the run is still at seq-1 (`atPrevious` holds). */
  alongside?: (atPrevious: SQL) => BatchItem<"sqlite">[];
}

/**
 * The final step: the version, the run's success and (when promoted) the
 * agent's active version in one batch, only if the run is still running at
 * seq-1. A version that adapts another is promoted only while that other one
 * is still live: a version trained meanwhile is not replaced behind its back.
 */
export async function commitFinal(db: Db, runId: string, seq: number, version: NewVersion, now: number, extras: FinalExtras = { promote: true }): Promise<boolean> {
  const atPrevious = and(eq(trainingRuns.id, runId), eq(trainingRuns.seq, seq - 1), eq(trainingRuns.status, "running"))!;
  const nextVersion = sql<number>`(SELECT COALESCE(MAX(${agentVersions.version}), 0) + 1 FROM ${agentVersions} WHERE ${agentVersions.appId} = ${version.appId} AND ${agentVersions.agentId} = ${version.agentId})`;
  const insert = db
    .insert(agentVersions)
    .select(
      db
        .select({
          id: v(version.id, "id"),
          appId: trainingRuns.appId,
          agentId: trainingRuns.agentId,
          version: nextVersion.as("version"),
          runId: trainingRuns.id,
          checkpointKey: v(version.checkpointKey, "checkpoint_key"),
          classes: v(JSON.stringify(version.classes), "classes"),
          params: v(JSON.stringify(version.params), "params"),
          metrics: v(JSON.stringify(version.metrics), "metrics"),
          kind: v(version.kind ?? "training", "kind"),
          baseVersionId: v(version.baseVersionId ?? null, "base_version_id"),
          memoriesVersionId: v(version.memoriesVersionId ?? null, "memories_version_id"),
          weightsSha256: v(version.weightsSha256 ?? null, "weights_sha256"),
          createdAt: v(now, "created_at"),
        })
        .from(trainingRuns)
        .where(atPrevious),
    )
    .onConflictDoNothing();
  const stillAtPrevious = exists(db.select({ one: sql`1` }).from(trainingRuns).where(atPrevious));
  const promote = extras.promote
    ? liveChange(db, {
        appId: version.appId,
        agentId: version.agentId,
        toVersionId: version.id,
        action: version.baseVersionId ? "adaptation" : "train",
        actor: "run",
        reason: extras.reason ?? `run ${runId} finished`,
        recordId: `dep_${version.id}`,
        now,
        whileLive: version.baseVersionId ?? undefined,
        onlyIfNone: extras.onlyIfNone,
        when: stillAtPrevious,
      })
    : [db.update(agents).set({ updatedAt: now }).where(and(eq(agents.appId, version.appId), eq(agents.id, version.agentId), stillAtPrevious))];
  const finish = db
    .update(trainingRuns)
    .set({ seq, status: "succeeded", versionId: version.id, finishedAt: now, updatedAt: now, lastError: null })
    .where(atPrevious);
  const kind = version.baseVersionId ? "adaptation" : "training";
  const points = pointsWhile(db, trainingRuns, atPrevious, [
    { appId: version.appId, agentId: version.agentId, type: "training", name: `${kind}.duration_ms`, value: sql`${now} - coalesce(${trainingRuns.startedAt}, ${trainingRuns.createdAt})`, at: now },
    { appId: version.appId, agentId: version.agentId, type: "training", name: `${kind}.training_fit_accuracy`, value: version.metrics.training_fit.accuracy, at: now },
    ...(version.metrics.validation ? [{ appId: version.appId, agentId: version.agentId, type: "training" as const, name: `${kind}.validation_accuracy`, value: version.metrics.validation.accuracy, at: now }] : []),
  ]);
  // The run's update goes last: it ends what `atPrevious` holds for.
  const [inserted] = await db.batch([insert, ...promote, ...points, ...(extras.alongside?.(atPrevious) ?? []), finish]);
  return inserted.meta.changes > 0;
}

export async function failRun(db: Db, runId: string, error: string, now: number): Promise<void> {
  await db
    .update(trainingRuns)
    .set({ status: "failed", error, finishedAt: now, updatedAt: now })
    .where(and(eq(trainingRuns.id, runId), inArray(trainingRuns.status, ACTIVE)));
}

export async function noteStepError(db: Db, runId: string, error: string, now: number): Promise<void> {
  await db.update(trainingRuns).set({ lastError: error, lastErrorAt: now }).where(eq(trainingRuns.id, runId));
}

/** A step (the one after the last committed) starts: if its invocation dies, this is what is left to tell. */
export async function noteStepStart(db: Db, runId: string, attempt: number, now: number): Promise<void> {
  await db.update(trainingRuns).set({ stepStartedAt: now, stepAttempt: attempt }).where(eq(trainingRuns.id, runId));
}

/** The id of the version a run makes (deterministic: a redone final step makes the same one). */
export function versionIdOf(runId: string): string {
  return `ver_${runId.slice(4)}`;
}

/** Sets a run's status if it is in one of `from`; returns whether it changed. */
export async function transition(db: Db, runId: string, from: RunStatus[], to: RunStatus, now: number, extra: Partial<NewRun> = {}): Promise<boolean> {
  const r = await db
    .update(trainingRuns)
    .set({ status: to, updatedAt: now, ...extra })
    .where(and(eq(trainingRuns.id, runId), inArray(trainingRuns.status, from)))
    .run();
  return r.meta.changes > 0;
}

/** Active runs without a committed step since `before` (the watchdog's list). */
export async function staleRuns(db: Db, before: number, limit: number): Promise<Run[]> {
  return db
    .select()
    .from(trainingRuns)
    .where(and(inArray(trainingRuns.status, ACTIVE), lt(trainingRuns.updatedAt, before)))
    .orderBy(asc(trainingRuns.updatedAt))
    .limit(limit);
}

/** The run's checkpoints are gone (deleted after success, or swept): it can no longer be resumed. */
export async function markSwept(db: Db, runId: string, now: number): Promise<void> {
  await db.update(trainingRuns).set({ sweptAt: now }).where(eq(trainingRuns.id, runId));
}

export async function touchRun(db: Db, runId: string, now: number): Promise<void> {
  await db.update(trainingRuns).set({ updatedAt: now }).where(eq(trainingRuns.id, runId));
}
