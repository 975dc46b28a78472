/**
 * AdamW (decoupled weight decay). Dense tensors update every batch; the
 * embedding table updates lazily, only the rows the batch touched (as in
 * "lazy Adam"), which keeps a step's cost proportional to its data.
 */
import { layerOf, tensorShapes, type Arch, type LayerName, type Network, type Tensors } from "./network.ts";

export interface AdamConfig {
  learning_rate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  weight_decay: number;
  /** Optimizer of the embedding table: lazy Adam, or row-wise Adagrad (one accumulator per row). */
  embedding: "adam" | "adagrad";
  /** Learning-rate multiplier of the embedding table under Adagrad. */
  embedding_lr_scale: number;
}

export interface AdamState {
  /** Number of updates applied so far. */
  t: number;
  m: Tensors;
  v: Tensors;
}

/** Floats of each tensor's first and second moment: as many as the tensor, but under Adagrad the embedding keeps one accumulator per row (and no first moment). */
export function adamShapes(arch: Arch, embedding: AdamConfig["embedding"]): Record<string, { m: number; v: number }> {
  return Object.fromEntries(
    Object.entries(tensorShapes(arch)).map(([name, [rows, cols]]) => {
      const rowWise = name === "embedding.weight" && embedding === "adagrad";
      return [name, { m: rowWise ? 0 : rows * cols, v: rowWise ? arch.rows : rows * cols }];
    }),
  );
}

/** Zeroed optimizer state (adamShapes). */
export function initAdam(arch: Arch, embedding: AdamConfig["embedding"]): AdamState {
  const m: Tensors = {};
  const v: Tensors = {};
  for (const [name, shape] of Object.entries(adamShapes(arch, embedding))) {
    m[name] = new Float32Array(shape.m);
    v[name] = new Float32Array(shape.v);
  }
  return { t: 0, m, v };
}

/** Applies the gradients accumulated in `net` to its weights and optimizer state, with learning rate `lr`. */
export function adamStep(net: Network, cfg: AdamConfig, lr: number, frozen: ReadonlySet<LayerName>): void {
  const state = net.optimizer;
  if (!state) throw new Error("adamStep() needs a network built for training");
  state.t += 1;
  const { beta1: b1, beta2: b2, epsilon: eps, weight_decay: wd } = cfg;
  const step = lr / (1 - Math.pow(b1, state.t));
  const c2 = 1 / (1 - Math.pow(b2, state.t));
  const decay = 1 - lr * wd;
  const k = net.kernels;
  for (const [name, g] of Object.entries(net.grads)) {
    if (frozen.has(layerOf(name))) continue;
    const p = net.params[name];
    const rowDecay = name.endsWith(".bias") ? 1 : decay;
    k.adam(p.byteOffset, g.byteOffset, state.m[name].byteOffset, state.v[name].byteOffset, p.length, b1, b2, step, c2, eps, rowDecay);
  }
  if (frozen.has("embedding")) return;
  const D = net.arch.dim;
  const E = net.params["embedding.weight"].byteOffset;
  const G = net.embeddingGradPointer;
  if (cfg.embedding === "adagrad") {
    const lrE = lr * cfg.embedding_lr_scale;
    k.adagrad_rows(E, G, net.touched.byteOffset, state.v["embedding.weight"].byteOffset, net.touchedCount, D, lrE, 1 - lrE * wd);
    return;
  }
  // Lazy Adam: only the touched rows move.
  const m = state.m["embedding.weight"].byteOffset;
  const v = state.v["embedding.weight"].byteOffset;
  for (let s = 0; s < net.touchedCount; s++) {
    const at = net.touched[s] * D * 4;
    k.adam(E + at, G + s * D * 4, m + at, v + at, D, b1, b2, step, c2, eps, decay);
  }
}
