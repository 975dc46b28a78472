/**
 * performance_tuning: chooses a version's execution settings — the
 * confidence threshold below which it does not show its class, how many
 * retrieved memories it uses, and how similar a demo must be to answer — to
 * maximize the reward function on its logged executions with feedback, by
 * off-policy evaluation over a grid (replay.ts). No weights change: the
 * candidate is the same network with other settings. The settings are chosen
 * on the rows learned from; the safety gate judges them on the held-out rows
 * (so the choice does not flatter itself). It runs within the call: a
 * replay costs one prediction per row and a few hundred cheap evaluations.
 */
import { liveChange } from "../deploy/history.ts";
import { tunedVersionInserts } from "./tuned-version.ts";
import { and, eq } from "drizzle-orm";
import { adaptations, agents } from "../db/schema.ts";
import { conflict } from "../errors.ts";
import { findAgent, loadModel, resolveVersion } from "../agent/versions.ts";
import { tunableSettings, withSettings, type ExecutionSettings } from "../agent/decide.ts";
import { predict } from "../model/model.ts";
import { modelText } from "../model/context.ts";
import { NO_EXPLORATION } from "../model/policy.ts";
import { findRun, versionIdOf } from "../training/runs.ts";
import { loggedRows, MAX_TRACED_ROWS, splitRows, tracedRows, type TracedRow } from "./data.ts";
import { replayGate } from "./gate.ts";
import { bestSettings, fitRewardModel, loggedAnswers, withPolicy } from "./replay.ts";
import { MIN_LOGGED_HOLDOUT, MIN_LOGGED_TO_LEARN, type StartDeps, type StartRequest, type Started } from "./start.ts";

const same = (a: ExecutionSettings, b: ExecutionSettings) =>
  a.confidence_threshold === b.confidence_threshold && a.memories_per_execution === b.memories_per_execution && a.demo_min_similarity === b.demo_min_similarity && a.hybrid_threshold === b.hybrid_threshold;

export async function tunePerformance(deps: StartDeps, req: Omit<StartRequest, "strategy" | "settings">): Promise<Started> {
  const { db, env } = deps;
  const agent = await findAgent(db, req.appId, req.agentId);
  const live = await resolveVersion(db, agent);
  const baseRun = await findRun(db, live.runId, req.appId);
  if (!baseRun) throw conflict("no_version", `the training run of version ${live.version} is gone; train the agent again`);
  const { measured } = await loggedRows(db, req.appId, agent.id, live.id, req.rewardFunction);
  // A hybrid version's language-model answers replay too: its threshold is one of the settings tuned.
  const hybrid = live.params.answerer?.mode === "hybrid";
  const split = splitRows(await tracedRows(db, req.appId, agent.id, live.id, req.rewardFunction, MAX_TRACED_ROWS, hybrid));
  if (split.learn.length < MIN_LOGGED_TO_LEARN || split.holdout.length < MIN_LOGGED_HOLDOUT) {
    const short = Math.max(MIN_LOGGED_TO_LEARN - split.learn.length, (MIN_LOGGED_HOLDOUT - split.holdout.length) * 4, 0);
    throw conflict(
      "not_enough_feedback",
      `performance_tuning replays executions with feedback (a reward under ${JSON.stringify(req.rewardFunction)}) of version ${live.version}: it needs at least ` +
        `${MIN_LOGGED_TO_LEARN} to choose settings on and ${MIN_LOGGED_HOLDOUT} held out to judge them by; agent '${agent.id}' has ${split.learn.length} and ${split.holdout.length}: ` +
        `give feedback on about ${Math.ceil(short * 1.25)} more executions`,
      { needed: { learn: MIN_LOGGED_TO_LEARN, holdout: MIN_LOGGED_HOLDOUT }, have: { learn: split.learn.length, holdout: split.holdout.length } },
    );
  }
  const { model, ensemble } = await loadModel(env.CHECKPOINTS, live);
  const probsOf = (part: readonly TracedRow[]) => part.map((r) => predict(model, modelText(r.input, r.context, live.params.context_features === true), ensemble).probs);
  const current = tunableSettings(live.params);
  const exploration = agent.exploration ?? NO_EXPLORATION;
  const learnAnswers = loggedAnswers(split.learn, probsOf(split.learn), model.classes, current);
  const rewardModel = fitRewardModel(learnAnswers);
  const learn = withPolicy(learnAnswers, rewardModel, exploration);
  const chosen = bestSettings(learn, current, rewardModel);
  const holdout = withPolicy(loggedAnswers(split.holdout, probsOf(split.holdout), model.classes, current), rewardModel, exploration);
  const gate = replayGate(holdout, chosen.settings, rewardModel, req.autoPromote, deps.seed(), "expected reward on held-out executions with feedback, replayed under the chosen settings (doubly robust)");
  const now = deps.now();
  const adaptationId = deps.newId("adp");
  const record = {
    id: adaptationId,
    appId: req.appId,
    agentId: agent.id,
    strategy: "performance_tuning" as const,
    rewardFunction: req.rewardFunction,
    reportedMetrics: req.reportedMetrics,
    measuredMetrics: { ...measured },
    baseVersionId: live.id,
    autoPromote: req.autoPromote,
    trigger: req.trigger,
    createdAt: now,
    finishedAt: now,
  };
  const data = { learn: learn.length, holdout: holdout.length };
  const settingsText = (s: ExecutionSettings) =>
    `confidence_threshold ${s.confidence_threshold}, memories_per_execution ${s.memories_per_execution}, demo_min_similarity ${s.demo_min_similarity}${s.hybrid_threshold === undefined ? "" : `, hybrid_threshold ${s.hybrid_threshold}`}`;
  if (same(chosen.settings, current)) {
    const verdict = { ...gate, passed: false, promoted: false, reason: `the current settings (${settingsText(current)}) are already the best of the grid on the rows learned from: nothing to change` };
    await db.insert(adaptations).values({ ...record, gate: verdict, status: "unchanged" });
    return { adaptation_id: adaptationId, data, plan: null };
  }
  const runId = deps.newId("run");
  const versionId = versionIdOf(runId);
  const reason = `${gate.reason} (chosen on the rows learned from: ${settingsText(chosen.settings)}, estimated ${chosen.value.toFixed(4)} against ${chosen.current.toFixed(4)} for the current settings)`;
  const candidateGate = { ...gate, reason };
  const params = withSettings(live.params, chosen.settings);
  const tuned = tunedVersionInserts(db, {
    appId: req.appId,
    agentId: agent.id,
    live,
    baseRun,
    runId,
    kind: "performance_tuning",
    params,
    metrics: { ...live.metrics, adaptation: { id: adaptationId, strategy: "performance_tuning", base_version: live.version, gate: candidateGate } },
    now,
  });
  await db.batch([
    ...tuned.inserts,
    db.insert(adaptations).values({ ...record, runId, candidateVersionId: versionId, gate: candidateGate, status: gate.promoted ? "promoted" : "candidate" }),
    ...(gate.promoted
      ? liveChange(db, {
          appId: req.appId,
          agentId: agent.id,
          toVersionId: versionId,
          action: "adaptation",
          actor: req.trigger,
          reason: `adaptation ${adaptationId} (performance_tuning): ${gate.reason}`,
          recordId: `dep_${versionId}`,
          now,
          whileLive: live.id,
        })
      : [db.update(agents).set({ updatedAt: now }).where(and(eq(agents.appId, req.appId), eq(agents.id, agent.id)))]),
  ]);
  if (gate.promoted) {
    // Another version went live meanwhile: this one was not promoted over it.
    const [now_] = await db.select({ live: agents.activeVersionId }).from(agents).where(and(eq(agents.appId, req.appId), eq(agents.id, agent.id)));
    if (now_?.live !== versionId) {
      const verdict = { ...candidateGate, promoted: false, reason: `${candidateGate.reason}; but another version went live meanwhile, so it stays a candidate` };
      await db.update(adaptations).set({ gate: verdict, status: "candidate" }).where(eq(adaptations.id, adaptationId));
    }
  }
  return { adaptation_id: adaptationId, data, plan: null };
}
