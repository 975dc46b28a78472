/**
 * The agent's network: hashed n-gram features → `embedding` (embedding bag)
 * → `early_layers` (dense + ReLU) → `late_layers` (dense + ReLU) → `output`
 * (softmax over response classes; it also takes a linear skip straight from
 * the embedding bag). Forward pass, cross-entropy with label
 * smoothing, backpropagation with inverted dropout, all in typed arrays.
 *
 * Parameters live in one Float32Array per tensor, named `<layer>.weight` and
 * `<layer>.bias`, so that checkpoints, optimizers and `freeze_layers` all
 * speak the same names.
 */
import type { SparseRows } from "./features.ts";
import { Rng } from "./rng.ts";

export const LAYER_NAMES = ["embedding", "early_layers", "late_layers", "output"] as const;
export type LayerName = (typeof LAYER_NAMES)[number];

export interface Arch {
  buckets: number;
  dim: number;
  hidden: number;
  classes: number;
}

export type Tensors = Record<string, Float32Array>;

/**
 * Shapes of every parameter tensor, [rows, cols] (a bias has 1 row). Dense
 * weights are input-major ([inputs, outputs]): an input that ReLU or dropout
 * zeroed skips its whole row in the forward pass and in both gradients.
 */
export function tensorShapes(a: Arch): Record<string, [number, number]> {
  return {
    "embedding.weight": [a.buckets, a.dim],
    "embedding.bias": [1, a.dim],
    "early_layers.weight": [a.dim, a.hidden],
    "early_layers.bias": [1, a.hidden],
    "late_layers.weight": [a.hidden, a.hidden],
    "late_layers.bias": [1, a.hidden],
    "output.weight": [a.hidden, a.classes],
    "output.bias": [1, a.classes],
    /** Linear path from the embedding bag straight to the output (helps with little data). */
    "output.skip": [a.dim, a.classes],
  };
}

export function layerOf(tensor: string): LayerName {
  return tensor.slice(0, tensor.indexOf(".")) as LayerName;
}

/** Seeded initialization: uniform Glorot for dense layers, small uniform embeddings. */
export function initParams(a: Arch, seed: number): Tensors {
  const rng = new Rng(seed, 0x1a17);
  const out: Tensors = {};
  for (const [name, [rows, cols]] of Object.entries(tensorShapes(a))) {
    const t = new Float32Array(rows * cols);
    if (name.endsWith(".weight") || name.endsWith(".skip")) {
      const limit = name === "embedding.weight" ? 1 / Math.sqrt(a.dim) : Math.sqrt(6 / (rows + cols));
      for (let i = 0; i < t.length; i++) t[i] = (rng.next() * 2 - 1) * limit;
    }
    out[name] = t;
  }
  return out;
}

export interface Regularization {
  /** Inverted-dropout rate on the embedding and hidden activations. */
  dropout: number;
  /** Target mass spread over all classes (0 = plain cross-entropy). */
  label_smoothing: number;
}

/** Scratch buffers and gradients for one network; not thread-shared. */
export class Network {
  readonly arch: Arch;
  readonly params: Tensors;
  readonly grads: Tensors;
  /** Embedding rows touched by the current batch, and their gradient slots. */
  touched: Int32Array;
  touchedCount = 0;
  private rowSlot: Int32Array;
  private embGrad: Float32Array;

  private e: Float32Array;
  private m0: Float32Array;
  private a1: Float32Array;
  private h1: Float32Array;
  private m1: Float32Array;
  private a2: Float32Array;
  private h2: Float32Array;
  private m2: Float32Array;
  readonly logits: Float32Array;
  readonly probs: Float32Array;
  private dz: Float32Array;
  private dh2: Float32Array;
  private dh1: Float32Array;
  private de: Float32Array;

  constructor(arch: Arch, params: Tensors) {
    this.arch = arch;
    this.params = params;
    const { dim: D, hidden: H, classes: C } = arch;
    this.grads = {};
    for (const [name, [r, c]] of Object.entries(tensorShapes(arch))) {
      if (name !== "embedding.weight") this.grads[name] = new Float32Array(r * c);
    }
    this.rowSlot = new Int32Array(arch.buckets).fill(-1);
    this.touched = new Int32Array(1024);
    this.embGrad = new Float32Array(1024 * D);
    this.e = new Float32Array(D);
    this.m0 = new Float32Array(D);
    this.a1 = new Float32Array(H);
    this.h1 = new Float32Array(H);
    this.m1 = new Float32Array(H);
    this.a2 = new Float32Array(H);
    this.h2 = new Float32Array(H);
    this.m2 = new Float32Array(H);
    this.logits = new Float32Array(C);
    this.probs = new Float32Array(C);
    this.dz = new Float32Array(C);
    this.dh2 = new Float32Array(H);
    this.dh1 = new Float32Array(H);
    this.de = new Float32Array(D);
  }

  /** Forward pass of row `r`; fills `logits` and `probs`. Dropout only when `rng` is given. */
  forward(x: SparseRows, r: number, rng: Rng | null, dropout: number): void {
    const { dim: D, hidden: H, classes: C } = this.arch;
    const p = this.params;
    const E = p["embedding.weight"];
    const e = this.e;
    e.set(p["embedding.bias"]);
    for (let j = x.offsets[r], end = x.offsets[r + 1]; j < end; j++) {
      const w = x.val[j];
      const base = x.idx[j] * D;
      for (let d = 0; d < D; d++) e[d] += w * E[base + d];
    }
    const keep = 1 - dropout;
    const drop = rng !== null && dropout > 0;
    if (drop) dropMask(this.m0, rng, dropout, keep, e);
    dense(p["early_layers.weight"], p["early_layers.bias"], e, this.a1, D, H);
    relu(this.a1, this.h1);
    if (drop) dropMask(this.m1, rng, dropout, keep, this.h1);
    dense(p["late_layers.weight"], p["late_layers.bias"], this.h1, this.a2, H, H);
    relu(this.a2, this.h2);
    if (drop) dropMask(this.m2, rng, dropout, keep, this.h2);
    dense(p["output.weight"], p["output.bias"], this.h2, this.logits, H, C);
    addInto(p["output.skip"], e, this.logits, D, C);
    softmax(this.logits, this.probs, 1);
  }

  /**
   * Cross-entropy of the last forward pass against class `y` (with label
   * smoothing), and accumulation of its gradients (scaled by `scale`).
   * Layers in `frozen` get no gradient. Returns the loss.
   */
  backward(x: SparseRows, r: number, y: number, reg: Regularization, dropped: boolean, scale: number, frozen: ReadonlySet<LayerName>): number {
    const { dim: D, hidden: H, classes: C } = this.arch;
    const p = this.params;
    const g = this.grads;
    const eps = reg.label_smoothing;
    const off = eps / C;
    let loss = 0;
    for (let c = 0; c < C; c++) {
      const q = (c === y ? 1 - eps : 0) + off;
      if (q > 0) loss -= q * Math.log(Math.max(this.probs[c], 1e-12));
      this.dz[c] = (this.probs[c] - q) * scale;
    }
    // output (and its linear skip from the embedding bag)
    if (!frozen.has("output")) {
      outerAdd(g["output.weight"], g["output.bias"], this.h2, this.dz, H, C);
      addOuter(g["output.skip"], this.e, this.dz, D, C);
    }
    if (frozen.has("late_layers") && frozen.has("early_layers") && frozen.has("embedding")) return loss;
    backInput(p["output.weight"], this.dz, this.h2, this.dh2, H, C);
    if (dropped) mulInPlace(this.dh2, this.m2);
    // late_layers
    if (!frozen.has("late_layers")) outerAdd(g["late_layers.weight"], g["late_layers.bias"], this.h1, this.dh2, H, H);
    if (frozen.has("early_layers") && frozen.has("embedding")) return loss;
    backInput(p["late_layers.weight"], this.dh2, this.h1, this.dh1, H, H);
    if (dropped) mulInPlace(this.dh1, this.m1);
    // early_layers
    if (!frozen.has("early_layers")) outerAdd(g["early_layers.weight"], g["early_layers.bias"], this.e, this.dh1, D, H);
    if (frozen.has("embedding")) return loss;
    backInput(p["early_layers.weight"], this.dh1, null, this.de, D, H);
    addBackInput(p["output.skip"], this.dz, this.de, D, C);
    if (dropped) mulInPlace(this.de, this.m0);
    // embedding (sparse rows)
    const gb = g["embedding.bias"];
    for (let d = 0; d < D; d++) gb[d] += this.de[d];
    for (let j = x.offsets[r], end = x.offsets[r + 1]; j < end; j++) {
      const w = x.val[j];
      const base = this.slotOf(x.idx[j]) * D;
      const G = this.embGrad;
      for (let d = 0; d < D; d++) G[base + d] += w * this.de[d];
    }
    return loss;
  }

  /** Gradient of embedding row `row` accumulated in this batch (a view). */
  embeddingGrad(slot: number): Float32Array {
    const D = this.arch.dim;
    return this.embGrad.subarray(slot * D, slot * D + D);
  }

  /** Clears all gradients for the next batch. */
  zeroGrad(): void {
    for (const t of Object.values(this.grads)) t.fill(0);
    for (let k = 0; k < this.touchedCount; k++) this.rowSlot[this.touched[k]] = -1;
    this.embGrad.fill(0, 0, this.touchedCount * this.arch.dim);
    this.touchedCount = 0;
  }

  private slotOf(row: number): number {
    let s = this.rowSlot[row];
    if (s >= 0) return s;
    s = this.touchedCount++;
    if (s >= this.touched.length) {
      const t = new Int32Array(this.touched.length * 2);
      t.set(this.touched);
      this.touched = t;
      const g = new Float32Array(this.embGrad.length * 2);
      g.set(this.embGrad);
      this.embGrad = g;
    }
    this.touched[s] = row;
    this.rowSlot[row] = s;
    return s;
  }
}

/** out = b + xᵀW for input-major W [n_in, n_out]; zero inputs are skipped. */
function dense(W: Float32Array, b: Float32Array, x: Float32Array, out: Float32Array, nIn: number, nOut: number): void {
  out.set(b);
  addInto(W, x, out, nIn, nOut);
}

/** out += xᵀW (no bias); zero inputs are skipped. */
function addInto(W: Float32Array, x: Float32Array, out: Float32Array, nIn: number, nOut: number): void {
  for (let j = 0; j < nIn; j++) {
    const v = x[j];
    if (v === 0) continue;
    const base = j * nOut;
    for (let i = 0; i < nOut; i++) out[i] += v * W[base + i];
  }
}

/**
 * Gradient of the loss with respect to a layer's input: dx[j] = W[j,:]·dy.
 * With `act` (the input was a ReLU output, possibly dropped out), inputs that
 * are zero get no gradient, which is also the ReLU's own backward step.
 */
function backInput(W: Float32Array, dy: Float32Array, act: Float32Array | null, dx: Float32Array, nIn: number, nOut: number): void {
  for (let j = 0; j < nIn; j++) {
    if (act !== null && act[j] === 0) {
      dx[j] = 0;
      continue;
    }
    const base = j * nOut;
    let s = 0;
    for (let i = 0; i < nOut; i++) s += W[base + i] * dy[i];
    dx[j] = s;
  }
}

/** dx[j] += W[j,:]·dy (a second path into the same input). */
function addBackInput(W: Float32Array, dy: Float32Array, dx: Float32Array, nIn: number, nOut: number): void {
  for (let j = 0; j < nIn; j++) {
    const base = j * nOut;
    let s = 0;
    for (let i = 0; i < nOut; i++) s += W[base + i] * dy[i];
    dx[j] += s;
  }
}

/** gW += x ⊗ dy (input-major); zero inputs are skipped. */
function addOuter(gW: Float32Array, x: Float32Array, dy: Float32Array, nIn: number, nOut: number): void {
  for (let j = 0; j < nIn; j++) {
    const v = x[j];
    if (v === 0) continue;
    const base = j * nOut;
    for (let i = 0; i < nOut; i++) gW[base + i] += v * dy[i];
  }
}

/** A dense layer's gradients: gW += x ⊗ dy, gb += dy. */
function outerAdd(gW: Float32Array, gb: Float32Array, x: Float32Array, dy: Float32Array, nIn: number, nOut: number): void {
  for (let i = 0; i < nOut; i++) gb[i] += dy[i];
  addOuter(gW, x, dy, nIn, nOut);
}

function relu(a: Float32Array, h: Float32Array): void {
  for (let i = 0; i < a.length; i++) h[i] = a[i] > 0 ? a[i] : 0;
}

function mulInPlace(x: Float32Array, m: Float32Array): void {
  for (let i = 0; i < x.length; i++) x[i] *= m[i];
}

function dropMask(mask: Float32Array, rng: Rng, rate: number, keep: number, x: Float32Array): void {
  const scale = 1 / keep;
  for (let i = 0; i < mask.length; i++) {
    mask[i] = rng.next() < rate ? 0 : scale;
    x[i] *= mask[i];
  }
}

/** Softmax of `z / temperature` into `out`. */
export function softmax(z: Float32Array, out: Float32Array, temperature: number): void {
  let max = -Infinity;
  for (let i = 0; i < z.length; i++) if (z[i] > max) max = z[i];
  let sum = 0;
  for (let i = 0; i < z.length; i++) {
    const v = Math.exp((z[i] - max) / temperature);
    out[i] = v;
    sum += v;
  }
  for (let i = 0; i < z.length; i++) out[i] /= sum;
}
