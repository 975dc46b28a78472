/** A trained agent model (a version's weights) and inference with it. */
import { featurize, type FeatureConfig } from "./features.ts";
import { softmax, type Arch, type Network, type Tensors } from "./network.ts";
import { encodeCheckpoint, decodeCheckpoint, CheckpointError } from "./checkpoint.ts";

export interface AgentModel {
  arch: Arch;
  features: FeatureConfig;
  /** Response classes: the distinct expected outputs, in class-index order. */
  classes: string[];
  idf: Float32Array;
  params: Tensors;
  /** Softmax temperature fitted on held-out data (calibration). */
  temperature: number;
}

export interface Prediction {
  class: number;
  confidence: number;
  probs: Float32Array;
}

/** Runs one text through the model on `net` (a network holding the model's weights). */
export function predict(model: AgentModel, text: string, net: Network): Prediction {
  const x = featurize(text, model.features, model.idf);
  net.forward(x, 0, null, 0);
  const probs = new Float32Array(model.arch.classes);
  softmax(net.logits, probs, model.temperature);
  let best = 0;
  for (let c = 1; c < probs.length; c++) if (probs[c] > probs[best]) best = c;
  return { class: best, confidence: probs[best], probs };
}

interface ModelMeta {
  kind: "agent-model";
  arch: Arch;
  features: FeatureConfig;
  classes: string[];
  temperature: number;
}

export function encodeModel(m: AgentModel): Uint8Array {
  const meta: ModelMeta = { kind: "agent-model", arch: m.arch, features: m.features, classes: m.classes, temperature: m.temperature };
  return encodeCheckpoint(meta, { ...m.params, idf: m.idf });
}

export function decodeModel(bytes: ArrayBuffer | Uint8Array): AgentModel {
  const { meta, tensors } = decodeCheckpoint<ModelMeta>(bytes);
  if (meta.kind !== "agent-model") throw new CheckpointError(`expected an agent model, found ${meta.kind}`);
  const { idf, ...params } = tensors;
  return { arch: meta.arch, features: meta.features, classes: meta.classes, temperature: meta.temperature, idf, params };
}
