/**
 * The Worker: HTTP (Hono); the queue consumers (training steps, evaluation steps, optimization trials, dead letters); and the
 * cron (watchdogs, sweeper, due adaptations, rollouts and experiments, due optimizations, metric roll-ups, the vector change log, memory upkeep).
 */
import { setting, type Env } from "./env.ts";
import { DEFAULT_AUDIT_RETENTION_DAYS, pruneAudit } from "./security/audit.ts";
import { registerSealing } from "./storage/sealing.ts";
import { erasureDeps, rescueStaleErasures } from "./erasure/job.ts";
import { pruneIdempotencyKeys } from "./http/idempotency.ts";
import { pruneRequestCounts } from "./security/quotas.ts";
import { createApp } from "./http/app.ts";
import { consumeDeadSteps, consumeSteps, stepDeps } from "./training/consumer.ts";
import { rescueStaleRuns } from "./training/watchdog.ts";
import { DEFAULT_RUN_RETENTION_DAYS, sweepRuns } from "./training/sweeper.ts";
import { upkeep } from "./memory/upkeep.ts";
import { memoryServices } from "./memory/store.ts";
import { pruneChanges } from "./memory/vectors/changes.ts";
import { D1VectorIndex } from "./memory/vectors/d1-index.ts";
import { randomId, randomSeed } from "./functions/common.ts";
import { adaptDueAgents } from "./adapt/cron.ts";
import { evaluationDeps, rescueStaleEvaluations } from "./evaluation/job.ts";
import { checkActiveSplits } from "./deploy/splits.ts";
import { optimizeDueAgents } from "./optimize/schedule.ts";
import { optimizeDeps, rescueStaleOptimizations } from "./optimize/run.ts";
import { sweepCache } from "./agent/cache.ts";
import { DEFAULT_METRICS_RAW_DAYS, rollUpMetrics } from "./metrics/retention.ts";

const app = createApp();

const DAY_MS = 86_400_000;

/** Runs each cron task on its own: one that fails is logged and does not stop the others. */
async function task(name: string, work: () => Promise<unknown>): Promise<void> {
  try {
    const report = await work();
    if (report !== undefined) console.log(`${name}: ${JSON.stringify(report)}`);
  } catch (e) {
    console.error(`${name} failed:`, e);
  }
}

export default {
  fetch(request: Request, env: Env, ctx: ExecutionContext): Response | Promise<Response> {
    registerSealing(env);
    return app.fetch(request, env, ctx);
  },

  async queue(batch: MessageBatch<unknown>, env: Env, _ctx: ExecutionContext): Promise<void> {
    registerSealing(env);
    const deps = stepDeps(env);
    if (batch.queue.endsWith("-dlq")) await consumeDeadSteps(batch, deps);
    else await consumeSteps(batch, deps, evaluationDeps(env, deps.db, deps.now), optimizeDeps({ env, db: deps.db, now: deps.now }), erasureDeps(env, deps.memory));
  },

  async scheduled(_controller: ScheduledController, env: Env, _ctx: ExecutionContext): Promise<void> {
    registerSealing(env);
    const deps = stepDeps(env);
    await task("watchdog", async () => {
      const rescued = await rescueStaleRuns(deps, setting(env.WATCHDOG_STALE_MINUTES, 10) * 60_000);
      return rescued.length > 0 ? { re_enqueued: rescued } : undefined;
    });
    await task("evaluation watchdog", async () => {
      const rescued = await rescueStaleEvaluations(evaluationDeps(env, deps.db, deps.now), setting(env.WATCHDOG_STALE_MINUTES, 10) * 60_000);
      return rescued.length > 0 ? { rescued } : undefined;
    });
    await task("sweeper", async () => {
      const swept = await sweepRuns(deps, setting(env.RUN_RETENTION_DAYS, DEFAULT_RUN_RETENTION_DAYS) * DAY_MS);
      return swept.memories + swept.runs > 0 ? swept : undefined;
    });
    await task("adaptation", async () => {
      const report = await adaptDueAgents({ db: deps.db, env, now: () => Date.now(), newId: randomId, seed: randomSeed });
      return report.started.length + report.refused.length > 0 ? report : undefined;
    });
    await task("rollouts and experiments", async () => {
      const checked = await checkActiveSplits(deps.db, Date.now());
      return Object.values(checked).some((o) => o !== "waiting") ? checked : undefined;
    });
    await task("optimization watchdog", async () => {
      const rescued = await rescueStaleOptimizations(optimizeDeps({ env, db: deps.db, now: deps.now }), setting(env.WATCHDOG_STALE_MINUTES, 10) * 60_000);
      return rescued.length > 0 ? { rescued } : undefined;
    });
    await task("optimization", async () => {
      const report = await optimizeDueAgents(optimizeDeps({ env, db: deps.db, now: deps.now }), () => randomId("opt"), randomSeed);
      return report.started.length + report.refused.length > 0 ? report : undefined;
    });
    await task("metric roll-ups", async () => {
      const rolled = await rollUpMetrics(env.DB, Date.now() - setting(env.METRICS_RAW_DAYS, DEFAULT_METRICS_RAW_DAYS) * DAY_MS);
      return rolled > 0 ? { rolled_up: rolled } : undefined;
    });
    await task("execution cache upkeep", async () => {
      const swept = await sweepCache(deps.db, Date.now());
      return swept > 0 ? { expired_entries: swept } : undefined;
    });
    await task("memory sketch snapshots", async () => {
      // The D1 index's snapshots of sketched agents (Vectorize has none).
      if (!(deps.memory.index instanceof D1VectorIndex)) return undefined;
      const written = await deps.memory.index.refreshSnapshots();
      return written.length > 0 ? { written } : undefined;
    });
    await task("vector change log", async () => {
      const pruned = await pruneChanges(deps.db, Date.now());
      return pruned > 0 ? { pruned } : undefined;
    });
    await task("erasure watchdog", async () => {
      const rescued = await rescueStaleErasures(erasureDeps(env, deps.memory), setting(env.WATCHDOG_STALE_MINUTES, 10) * 60_000);
      return rescued.length > 0 ? { re_enqueued: rescued } : undefined;
    });
    await task("request counts", async () => {
      const pruned = await pruneRequestCounts(deps.db, Date.now());
      return pruned > 0 ? { pruned } : undefined;
    });
    await task("idempotency keys", async () => {
      const pruned = await pruneIdempotencyKeys(deps.db, Date.now());
      return pruned > 0 ? { pruned } : undefined;
    });
    await task("audit log retention", async () => {
      const pruned = await pruneAudit(deps.db, setting(env.AUDIT_RETENTION_DAYS, DEFAULT_AUDIT_RETENTION_DAYS), Date.now());
      return pruned > 0 ? { pruned } : undefined;
    });
    await task("memory upkeep", async () => {
      const report = await upkeep(memoryServices(env, () => randomId("mem")));
      return report.expired + report.merged + report.conflicts > 0 ? report : undefined;
    });
  },
} satisfies ExportedHandler<Env>;
