/** A trained agent model (a version's weights) and inference with it. */
import { featurize, type FeatureConfig } from "./features.ts";
import { softmax, tensorShapes, type Arch, type Tensors } from "./network.ts";
import type { Ensemble } from "./ensemble.ts";
import { encodeCheckpoint, decodeCheckpoint, CheckpointError, type Storage } from "./checkpoint.ts";
import { mixPrototypes, type PrototypeHead } from "./prototypes.ts";

export interface AgentModel {
  arch: Arch;
  features: FeatureConfig;
  /** Response classes: the distinct expected outputs, in class-index order. */
  classes: string[];
  /** Sorted bucket ids of the embedding rows. */
  vocab: Int32Array;
  /** IDF per embedding row. */
  idf: Float32Array;
  params: Tensors;
  /** Softmax temperature fitted on held-out data (calibration). */
  temperature: number;
  /** Class prototypes mixed into the answer (few-shot models: prototype_weight > 0). */
  prototypes?: PrototypeHead;
}

export interface Prediction {
  class: number;
  confidence: number;
  probs: Float32Array;
}

/** Runs one text through the model on `ens` (the ensemble holding the model's weights). */
export function predict(model: AgentModel, text: string, ens: Ensemble): Prediction {
  const x = featurize(text, model.features, model.vocab, model.idf);
  ens.forward(x, 0);
  const probs = new Float32Array(model.arch.classes);
  softmax(ens.logits, probs, model.temperature);
  if (model.prototypes) mixPrototypes(model.prototypes, text, probs);
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
  prototypes?: Pick<PrototypeHead, "dim" | "weight" | "temperature">;
}

/**
 * A version ("version") stores its embedding tables (nearly all the bytes)
 * as float16: half the size, and every use of a version — the benchmark's
 * included — decodes those. Weights that training goes on from ("exact")
 * stay float32, so that resumed and in-process runs are bit-identical.
 */
export function encodeModel(m: AgentModel, precision: "version" | "exact" | "int8" = "version"): Uint8Array {
  const meta: ModelMeta = { kind: "agent-model", arch: m.arch, features: m.features, classes: m.classes, temperature: m.temperature };
  // Bucket ids are below 2^24, so float32 holds them exactly.
  const tensors: Record<string, Float32Array> = { ...m.params, idf: m.idf, vocab: Float32Array.from(m.vocab) };
  if (m.prototypes) {
    const { vectors, ...head } = m.prototypes;
    meta.prototypes = head;
    tensors.prototypes = vectors;
  }
  const shapes = tensorShapes(m.arch);
  return encodeCheckpoint(meta, tensors, (name): Storage => {
    if (precision === "exact" || name === "idf" || name === "vocab" || name === "prototypes") return "f32";
    if (precision === "version") return name.endsWith("embedding.weight") ? "f16" : "f32";
    // int8 (a compressed version): every weight matrix, a scale per row of its input dimension.
    const shape = shapes[name.replace(/^m\d+\//, "")];
    return shape && shape[0] > 1 && !name.endsWith("bias") ? { dtype: "i8", row: shape[1] } : "f32";
  });
}

export function decodeModel(bytes: ArrayBuffer | Uint8Array): AgentModel {
  const { meta, tensors } = decodeCheckpoint<ModelMeta>(bytes);
  if (meta.kind !== "agent-model") throw new CheckpointError(`expected an agent model, found ${meta.kind}`);
  const { idf, vocab, prototypes, ...params } = tensors;
  if (!idf || !vocab || vocab.length !== meta.arch.rows) throw new CheckpointError("agent model lacks its vocabulary");
  const model: AgentModel = { arch: meta.arch, features: meta.features, classes: meta.classes, temperature: meta.temperature, vocab: Int32Array.from(vocab), idf, params };
  if (meta.prototypes) {
    if (!prototypes || prototypes.length !== meta.prototypes.dim * meta.classes.length) throw new CheckpointError("agent model lacks its class prototypes");
    model.prototypes = { ...meta.prototypes, vectors: prototypes };
  }
  return model;
}
