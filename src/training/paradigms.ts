/**
 * The seed's training paradigms, resolved into the engine's levers before a
 * run is created:
 *
 * - supervised: the config as given.
 * - few_shot (1–20 examples per class): with leverage_base_model (default),
 *   the class-prototype head in the built-in base's embedding space is mixed
 *   into every answer (prototype_weight 0.5 unless set). use_prompt_engineering
 *   on an agent whose live version answers with a language model (and the app
 *   has one) has the final step bootstrap its demos (src/llm/bootstrap.ts);
 *   otherwise it is accepted and reported as not used.
 * - transfer: from `base_agent_id`'s live version (same app; 404 otherwise) —
 *   its architecture, features and weights (model/transfer.ts) — or from
 *   'base:glove-en' (the base's word vectors start the embedding).
 *   fine_tune_layers freezes every other layer.
 */
import { and, eq } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { agents, agentVersions } from "../db/schema.ts";
import { findAgent, resolveVersion, versionWeights } from "../agent/versions.ts";
import { decodeModel } from "../model/model.ts";
import { transferHyper } from "../model/transfer.ts";
import { providerFor, type LlmEnv } from "../llm/provider.ts";
import type { AnswererSettings } from "../llm/answerer.ts";
import { BASE_NAME } from "../base/glove.ts";
import { invalidInput } from "../errors.ts";
import { LAYER_NAMES } from "../model/network.ts";
import type { Example, Hyper } from "../model/hyper.ts";

export const TRAINING_TYPES = ["supervised", "few_shot", "transfer"] as const;
export type TrainingType = (typeof TRAINING_TYPES)[number];

/** Most examples per class a few_shot run takes (more: train supervised). */
export const FEW_SHOT_MAX_PER_CLASS = 20;
/** The prototype head's share when few_shot leverages the base (chosen on validation splits of BANKING77's training set: bench/run.ts). */
export const FEW_SHOT_PROTOTYPE_WEIGHT = 0.5;

/** What the run does with the paradigm's options, for the client. */
export interface ParadigmReport {
  training_type: TrainingType;
  notes: string[];
  base?: { agent_id: string; version: number } | { model: string };
}

/** The live version's language-model answerer (llm or hybrid), or null (no agent, no version, a local answerer). */
async function liveAnswerer(db: Db, appId: string, agentId: string): Promise<AnswererSettings | null> {
  const [row] = await db
    .select({ params: agentVersions.params })
    .from(agents)
    .innerJoin(agentVersions, and(eq(agentVersions.appId, agents.appId), eq(agentVersions.id, agents.activeVersionId)))
    .where(and(eq(agents.appId, appId), eq(agents.id, agentId)))
    .limit(1);
  const a = row?.params.answerer;
  return a && a.mode !== "local" ? a : null;
}

/** few_shot's levers: the prototype head when the base is leveraged (unless prototype_weight is set). */
export function fewShotLevers(hyper: Hyper): Hyper {
  return hyper.leverage_base_model && hyper.prototype_weight === 0 ? { ...hyper, prototype_weight: FEW_SHOT_PROTOTYPE_WEIGHT } : hyper;
}

export async function applyParadigm(
  deps: { db: Db; checkpoints: R2Bucket; appId: string; agentId: string; env: LlmEnv },
  type: TrainingType,
  hyper: Hyper,
  examples: readonly Example[],
  dataField: string,
): Promise<{ hyper: Hyper; report: ParadigmReport }> {
  const notes: string[] = [];
  if (type !== "transfer" && (hyper.base_agent_id !== undefined || hyper.fine_tune_layers !== undefined)) {
    throw invalidInput([{ path: "config.base_agent_id", message: "base_agent_id and fine_tune_layers go with training_type 'transfer'" }]);
  }
  if (type === "few_shot") {
    const perClass = new Map<string, number>();
    for (const e of examples) perClass.set(e.expected_output, (perClass.get(e.expected_output) ?? 0) + 1);
    const [cls, most] = [...perClass].sort((a, b) => b[1] - a[1])[0];
    if (most > FEW_SHOT_MAX_PER_CLASS) {
      throw invalidInput([
        { path: dataField, message: `few_shot takes 1–${FEW_SHOT_MAX_PER_CLASS} examples per class; '${cls.slice(0, 60)}' has ${most}: train it with training_type 'supervised'` },
      ]);
    }
    hyper = fewShotLevers(hyper);
    if (hyper.leverage_base_model) {
      notes.push(`class prototypes in ${BASE_NAME}'s embedding space carry ${hyper.prototype_weight} of every answer`);
    }
    if (hyper.use_prompt_engineering) {
      const answerer = await liveAnswerer(deps.db, deps.appId, deps.agentId);
      const provider = answerer ? await providerFor(deps.db, deps.env, deps.appId) : null;
      if (!answerer) notes.push("use_prompt_engineering was not used: the agent has no language-model answerer (configureAnswerer) to build a prompt for");
      else if (!provider) notes.push("use_prompt_engineering was not used: no language model is configured (setLLMCredentials or OPENAI_API_KEY)");
      else {
        hyper = { ...hyper, prompt_engineering: { answerer } };
        notes.push(`prompt engineering: demos bootstrapped with ${answerer.model} (the training inputs it answers right), measured on the validation split against random demos`);
      }
    }
    return { hyper, report: { training_type: type, notes, base: hyper.leverage_base_model ? { model: BASE_NAME } : undefined } };
  }
  if (type !== "transfer") return { hyper, report: { training_type: type, notes } };

  const baseId = hyper.base_agent_id;
  if (baseId === undefined) throw invalidInput([{ path: "config.base_agent_id", message: "transfer needs base_agent_id: an agent of this app, or 'base:glove-en'" }]);
  if (hyper.fine_tune_layers) {
    const frozen = new Set([...hyper.freeze_layers, ...LAYER_NAMES.filter((l) => !hyper.fine_tune_layers!.includes(l))]);
    hyper = { ...hyper, freeze_layers: LAYER_NAMES.filter((l) => frozen.has(l)) };
  }
  if (baseId === BASE_NAME) {
    notes.push(`${BASE_NAME}'s word vectors start the embedding rows of the words it knows`);
    return { hyper: { ...hyper, base_model: "glove-en" }, report: { training_type: type, notes, base: { model: BASE_NAME } } };
  }
  // Another app's agent does not exist here: 404, as for any id of another app.
  const agent = await findAgent(deps.db, deps.appId, baseId);
  const version = await resolveVersion(deps.db, agent);
  const base = decodeModel(await versionWeights(deps.checkpoints, version, `'${agent.id}' version ${version.version}`));
  hyper = {
    ...transferHyper(base, hyper, examples.length),
    transfer: { agent_id: agent.id, version_id: version.id, version: version.version, checkpoint_key: version.checkpointKey, weights_sha256: version.weightsSha256 },
  };
  const shared = new Set(examples.map((e) => e.expected_output).filter((c) => base.classes.includes(c))).size;
  notes.push(`starts from '${agent.id}' version ${version.version}: ${shared} of its ${base.classes.length} classes shared, frozen: ${hyper.freeze_layers.join(", ") || "none"}`);
  return { hyper, report: { training_type: type, notes, base: { agent_id: agent.id, version: version.version } } };
}

