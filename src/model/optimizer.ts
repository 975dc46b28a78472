/**
 * AdamW (decoupled weight decay). Dense tensors update every batch; the
 * embedding table updates lazily, only the rows the batch touched (as in
 * "lazy Adam"), which keeps a step's cost proportional to its data.
 */
import { layerOf, type Arch, type LayerName, type Network, type Tensors } from "./network.ts";

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

/** Zeroed optimizer state; under Adagrad the embedding keeps one accumulator per row. */
export function initAdam(params: Tensors, arch: Arch, embedding: AdamConfig["embedding"]): AdamState {
  const m: Tensors = {};
  const v: Tensors = {};
  for (const [name, p] of Object.entries(params)) {
    const rowWise = name === "embedding.weight" && embedding === "adagrad";
    m[name] = new Float32Array(rowWise ? 0 : p.length);
    v[name] = new Float32Array(rowWise ? arch.buckets : p.length);
  }
  return { t: 0, m, v };
}

/** Applies the gradients accumulated in `net` with learning rate `lr`. */
export function adamStep(net: Network, state: AdamState, cfg: AdamConfig, lr: number, frozen: ReadonlySet<LayerName>): void {
  state.t += 1;
  const { beta1: b1, beta2: b2, epsilon: eps, weight_decay: wd } = cfg;
  const c1 = 1 / (1 - Math.pow(b1, state.t));
  const c2 = 1 / (1 - Math.pow(b2, state.t));
  const decay = 1 - lr * wd;
  for (const [name, g] of Object.entries(net.grads)) {
    if (frozen.has(layerOf(name))) continue;
    const p = net.params[name];
    const m = state.m[name];
    const v = state.v[name];
    const isBias = name.endsWith(".bias");
    for (let i = 0; i < p.length; i++) {
      const gi = g[i];
      const mi = (m[i] = b1 * m[i] + (1 - b1) * gi);
      const vi = (v[i] = b2 * v[i] + (1 - b2) * gi * gi);
      p[i] = (isBias ? p[i] : p[i] * decay) - (lr * mi * c1) / (Math.sqrt(vi * c2) + eps);
    }
  }
  if (frozen.has("embedding")) return;
  if (cfg.embedding === "adagrad") return adagradRows(net, state, lr * cfg.embedding_lr_scale, wd);
  const D = net.arch.dim;
  const E = net.params["embedding.weight"];
  const m = state.m["embedding.weight"];
  const v = state.v["embedding.weight"];
  for (let k = 0; k < net.touchedCount; k++) {
    const g = net.embeddingGrad(k);
    const base = net.touched[k] * D;
    for (let d = 0; d < D; d++) {
      const i = base + d;
      const gi = g[d];
      const mi = (m[i] = b1 * m[i] + (1 - b1) * gi);
      const vi = (v[i] = b2 * v[i] + (1 - b2) * gi * gi);
      E[i] = E[i] * decay - (lr * mi * c1) / (Math.sqrt(vi * c2) + eps);
    }
  }
}

/** Row-wise Adagrad on the touched embedding rows (state: one float per row, in `v`). */
function adagradRows(net: Network, state: AdamState, lr: number, wd: number): void {
  const D = net.arch.dim;
  const E = net.params["embedding.weight"];
  const acc = state.v["embedding.weight"];
  const decay = 1 - lr * wd;
  for (let k = 0; k < net.touchedCount; k++) {
    const g = net.embeddingGrad(k);
    const row = net.touched[k];
    let sq = 0;
    for (let d = 0; d < D; d++) sq += g[d] * g[d];
    const a = (acc[row] += sq / D);
    const step = lr / (Math.sqrt(a) + 1e-8);
    const base = row * D;
    for (let d = 0; d < D; d++) E[base + d] = E[base + d] * decay - step * g[d];
  }
}
