/**
 * configureAnswerer's work: a new version of the agent with the live
 * version's network and memories and the given answerer (a tuned version:
 * no training). It is a candidate unless asked to go live at once — like any
 * version it earns promotion (promoteVersion, a rollout, an experiment).
 */
import type { Db } from "../db/client.ts";
import { findAgent, promoteVersion, resolveVersion, versionById } from "../agent/versions.ts";
import { tunedVersionInserts } from "../adapt/tuned-version.ts";
import { findRun } from "../training/runs.ts";
import { conflict } from "../errors.ts";
import type { AnswererSettings } from "./answerer.ts";
import { providerFor, type LlmEnv } from "./provider.ts";

export async function configureAnswerer(
  deps: { db: Db; env: LlmEnv; newId: (prefix: string) => string; now: number },
  appId: string,
  agentId: string,
  answerer: AnswererSettings,
  deploy: "candidate" | "immediate",
): Promise<{ version: number; version_id: string; live: boolean; base_version: number; provider: "app" | "deployment" | null }> {
  const { db } = deps;
  const agent = await findAgent(db, appId, agentId);
  const live = await resolveVersion(db, agent);
  const provider = answerer.mode === "local" ? null : await providerFor(db, deps.env, appId);
  if (answerer.mode !== "local" && !provider) {
    throw conflict("no_language_model", `answerer '${answerer.mode}' needs a language model: set the app's with setLLMCredentials (or the deployment's OPENAI_API_KEY)`);
  }
  const baseRun = await findRun(db, live.runId, appId);
  if (!baseRun) throw conflict("no_version", `the training run of version ${live.version} is gone; train the agent again`);
  const runId = deps.newId("run");
  const tuned = tunedVersionInserts(db, {
    appId,
    agentId: agent.id,
    live,
    baseRun,
    runId,
    kind: "answerer",
    params: { ...live.params, answerer },
    metrics: live.metrics,
    now: deps.now,
  });
  await db.batch([...tuned.inserts]);
  const created = (await versionById(db, agent, tuned.versionId)).version;
  if (deploy === "immediate") {
    await promoteVersion(db, agent, created, { action: "promote", actor: "configureAnswerer", reason: `answerer ${answerer.mode}`, recordId: `dep_${tuned.versionId}` }, deps.now);
  }
  return { version: created, version_id: tuned.versionId, live: deploy === "immediate", base_version: live.version, provider: provider?.source ?? null };
}
