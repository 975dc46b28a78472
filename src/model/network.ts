/**
 * The agent's network: hashed n-gram features → `embedding` (embedding bag)
 * → `early_layers` (dense + ReLU) → `late_layers` (dense + ReLU) → `output`
 * (softmax over response classes; it also takes a linear skip straight from
 * the embedding bag). Forward pass, cross-entropy with label
 * smoothing, backpropagation with inverted dropout; the dense and embedding
 * arithmetic runs in WebAssembly SIMD kernels (kernels.wat).
 *
 * Parameters live in one Float32Array per tensor, named `<layer>.weight` and
 * `<layer>.bias`, so that checkpoints, optimizers and `freeze_layers` all
 * speak the same names.
 */
import type { SparseRows } from "./features.ts";
import { Rng } from "./rng.ts";
import { allocate, measure, type Allocator } from "./arena.ts";
import type { Kernels } from "./kernels.ts";
import type { AdamState } from "./optimizer.ts";
import type { Hyper } from "./hyper.ts";

export const LAYER_NAMES = ["embedding", "early_layers", "late_layers", "output"] as const;
export type LayerName = (typeof LAYER_NAMES)[number];

export interface Arch {
  /** Rows of the embedding table: the size of the learned vocabulary. */
  rows: number;
  dim: number;
  hidden: number;
  classes: number;
  /** Networks of this architecture in the model's ensemble (ensemble.ts). */
  members: number;
}

export type Tensors = Record<string, Float32Array>;

/**
 * Shapes of every parameter tensor, [rows, cols] (a bias has 1 row). Dense
 * weights are input-major ([inputs, outputs]): an input that ReLU or dropout
 * zeroed skips its whole row in the forward pass and in both gradients.
 */
export function tensorShapes(a: Arch): Record<string, [number, number]> {
  return {
    "embedding.weight": [a.rows, a.dim],
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

/**
 * Seeded initialization: uniform Glorot for dense layers; embeddings uniform
 * in ±embeddingInit/√dim (small: a text's bag starts near zero and is shaped
 * by training rather than by random rows).
 */
export function initParams(a: Arch, seed: number, embeddingInit = 1): Tensors {
  const rng = new Rng(seed, 0x1a17);
  const out: Tensors = {};
  for (const [name, [rows, cols]] of Object.entries(tensorShapes(a))) {
    const t = new Float32Array(rows * cols);
    if (name.endsWith(".weight") || name.endsWith(".skip")) {
      const limit = name === "embedding.weight" ? embeddingInit / Math.sqrt(a.dim) : Math.sqrt(6 / (rows + cols));
      for (let i = 0; i < t.length; i++) t[i] = (rng.next() * 2 - 1) * limit;
    }
    out[name] = t;
  }
  return out;
}

/** The regularization levers backward() applies: inverted dropout on the embedding and hidden activations, label smoothing of the targets. */
export type Regularization = Pick<Hyper, "dropout" | "label_smoothing">;

/** Options of a network that trains (an inference network holds weights and activations only). */
export interface TrainingOptions {
  /** Most embedding rows one batch can touch (room for their gradients). */
  maxTouchedRows: number;
  /** Optimizer state to keep next to the weights (copied in; see `Network.optimizer`). */
  optimizer: AdamState;
}

type DenseLayer = Exclude<LayerName, "embedding">;
/** Tensor names of the dense layers (no string building in the hot path). */
const WEIGHT: Record<DenseLayer, string> = { early_layers: "early_layers.weight", late_layers: "late_layers.weight", output: "output.weight" };
const BIAS: Record<DenseLayer, string> = { early_layers: "early_layers.bias", late_layers: "late_layers.bias", output: "output.bias" };

/** Feature entries handed to the embedding kernels at a time. */
const CHUNK = 512;

/**
 * The network's weights, gradients, optimizer state and scratch buffers,
 * all in one WebAssembly memory (arena.ts) that the SIMD kernels work on.
 * The tensors passed in are copied: read and write the weights through
 * `params` (and the optimizer state through `optimizer`) afterwards.
 */
export class Network {
  readonly arch: Arch;
  readonly params: Tensors;
  /** Gradients of every tensor but the embedding table (empty for inference). */
  readonly grads: Tensors;
  readonly optimizer: AdamState | null;
  readonly kernels: Kernels;
  /** Bytes of the network's WebAssembly memory. */
  readonly memoryBytes: number;
  /** Embedding rows touched by the current batch; row touched[k] has its gradient in slot k. */
  readonly touched: Int32Array;
  touchedCount = 0;
  readonly logits: Float32Array;
  readonly probs: Float32Array;
  private readonly embGrad: Float32Array;
  private readonly rowSlot: Int32Array;
  private readonly b: ReturnType<typeof layout>;

  constructor(arch: Arch, params: Tensors, training?: TrainingOptions) {
    this.arch = arch;
    const sizing = training && { maxTouchedRows: training.maxTouchedRows, moments: momentLengths(training.optimizer) };
    const { kernels, buffers, bytes } = allocate((a) => layout(a, arch, sizing));
    this.kernels = kernels;
    this.memoryBytes = bytes;
    this.b = buffers;
    for (const [name, t] of Object.entries(buffers.params)) {
      if (!params[name] || params[name].length !== t.length) throw new Error(`tensor ${name} is missing or has the wrong size`);
      t.set(params[name]);
    }
    this.params = buffers.params;
    this.grads = buffers.grads;
    this.optimizer = null;
    if (training) {
      const { m, v } = buffers.moments;
      for (const name of Object.keys(m)) {
        m[name].set(training.optimizer.m[name]);
        v[name].set(training.optimizer.v[name]);
      }
      this.optimizer = { t: training.optimizer.t, m, v };
    }
    this.touched = buffers.touched;
    this.embGrad = buffers.embGrad;
    this.rowSlot = new Int32Array(training ? arch.rows : 0).fill(-1);
    this.logits = buffers.logits;
    this.probs = buffers.probs;
  }

  /** Forward pass of row `r`; fills `logits` and `probs`. Dropout only when `rng` is given. */
  forward(x: SparseRows, r: number, rng: Rng | null, dropout: number): void {
    const { dim: D, hidden: H, classes: C } = this.arch;
    const p = this.params;
    const k = this.kernels;
    const { e, idx, val } = this.b;
    e.set(p["embedding.bias"]);
    const E = p["embedding.weight"].byteOffset;
    for (let j = x.offsets[r], end = x.offsets[r + 1]; j < end; j += CHUNK) {
      const n = Math.min(CHUNK, end - j);
      idx.set(x.idx.subarray(j, j + n));
      val.set(x.val.subarray(j, j + n));
      k.bag(E, idx.byteOffset, val.byteOffset, n, e.byteOffset, D);
    }
    const keep = 1 - dropout;
    const drop = rng !== null && dropout > 0;
    const { m0, a1, h1, m1, a2, h2, m2 } = this.b;
    if (drop) dropMask(m0, rng, dropout, keep, e);
    this.dense("early_layers", e, a1, D, H);
    relu(a1, h1);
    if (drop) dropMask(m1, rng, dropout, keep, h1);
    this.dense("late_layers", h1, a2, H, H);
    relu(a2, h2);
    if (drop) dropMask(m2, rng, dropout, keep, h2);
    this.dense("output", h2, this.logits, H, C);
    k.dense_add(p["output.skip"].byteOffset, e.byteOffset, this.logits.byteOffset, D, C);
    softmax(this.logits, this.probs, 1);
  }

  /**
   * Cross-entropy of the last forward pass against class `y` (with label
   * smoothing), and accumulation of its gradients (scaled by `scale`).
   * Layers in `frozen` get no gradient. Returns the loss.
   */
  backward(
    x: SparseRows,
    r: number,
    y: number,
    reg: Regularization,
    dropped: boolean,
    scale: number,
    frozen: ReadonlySet<LayerName>,
    soft?: { target: ArrayLike<number>; weight: number },
  ): number {
    if (!this.optimizer) throw new Error("backward() needs a network built for training");
    const { dim: D, hidden: H, classes: C } = this.arch;
    const p = this.params;
    const g = this.grads;
    const k = this.kernels;
    const { e, m0, h1, m1, h2, m2, dz, dh2, dh1, de } = this.b;
    const eps = reg.label_smoothing;
    const off = eps / C;
    let loss = 0;
    const sw = soft ? soft.weight : 0;
    for (let c = 0; c < C; c++) {
      // The target: the (smoothed) label, mixed with a soft target when one is given (distillation).
      const q = (1 - sw) * ((c === y ? 1 - eps : 0) + off) + (soft ? sw * soft.target[c] : 0);
      if (q > 0) loss -= q * Math.log(Math.max(this.probs[c], 1e-12));
      dz[c] = (this.probs[c] - q) * scale;
    }
    // output (and its linear skip from the embedding bag)
    if (!frozen.has("output")) {
      this.layerGrads("output", h2, dz, H, C);
      k.add_outer(g["output.skip"].byteOffset, e.byteOffset, dz.byteOffset, D, C);
    }
    if (frozen.has("late_layers") && frozen.has("early_layers") && frozen.has("embedding")) return loss;
    // ReLU's backward step: inputs that are 0 (negative or dropped) get no gradient.
    k.back_input(p["output.weight"].byteOffset, dz.byteOffset, h2.byteOffset, dh2.byteOffset, H, C, 0);
    if (dropped) mulInPlace(dh2, m2);
    // late_layers
    if (!frozen.has("late_layers")) this.layerGrads("late_layers", h1, dh2, H, H);
    if (frozen.has("early_layers") && frozen.has("embedding")) return loss;
    k.back_input(p["late_layers.weight"].byteOffset, dh2.byteOffset, h1.byteOffset, dh1.byteOffset, H, H, 0);
    if (dropped) mulInPlace(dh1, m1);
    // early_layers
    if (!frozen.has("early_layers")) this.layerGrads("early_layers", e, dh1, D, H);
    if (frozen.has("embedding")) return loss;
    k.back_input(p["early_layers.weight"].byteOffset, dh1.byteOffset, 0, de.byteOffset, D, H, 0);
    k.back_input(p["output.skip"].byteOffset, dz.byteOffset, 0, de.byteOffset, D, C, 1);
    if (dropped) mulInPlace(de, m0);
    // embedding (sparse rows)
    addInPlace(g["embedding.bias"], de);
    const { slot, val } = this.b;
    for (let j = x.offsets[r], end = x.offsets[r + 1]; j < end; j += CHUNK) {
      const n = Math.min(CHUNK, end - j);
      for (let i = 0; i < n; i++) slot[i] = this.slotOf(x.idx[j + i]);
      val.set(x.val.subarray(j, j + n));
      k.bag_grad(this.embGrad.byteOffset, slot.byteOffset, val.byteOffset, n, de.byteOffset, D);
    }
    return loss;
  }

  /** What the last forward pass computed before the output layer: the embedding bag and the last hidden layer (views). */
  get representation(): { embedding: Float32Array; hidden: Float32Array } {
    return { embedding: this.b.e, hidden: this.b.h2 };
  }

  /** Gradient of the embedding row in slot `slot` accumulated in this batch (a view). */
  embeddingGrad(slot: number): Float32Array {
    const D = this.arch.dim;
    return this.embGrad.subarray(slot * D, slot * D + D);
  }

  /** Byte offset of the embedding gradient slots (for the optimizer's kernels). */
  get embeddingGradPointer(): number {
    return this.embGrad.byteOffset;
  }

  /** Clears all gradients for the next batch. */
  zeroGrad(): void {
    for (const t of Object.values(this.grads)) t.fill(0);
    for (let k = 0; k < this.touchedCount; k++) this.rowSlot[this.touched[k]] = -1;
    this.embGrad.fill(0, 0, this.touchedCount * this.arch.dim);
    this.touchedCount = 0;
  }

  /** out = b + xᵀW of a dense layer; zero inputs are skipped. */
  private dense(layer: DenseLayer, x: Float32Array, out: Float32Array, nIn: number, nOut: number): void {
    out.set(this.params[BIAS[layer]]);
    this.kernels.dense_add(this.params[WEIGHT[layer]].byteOffset, x.byteOffset, out.byteOffset, nIn, nOut);
  }

  /** A dense layer's gradients: gW += x ⊗ dy, gb += dy. */
  private layerGrads(layer: DenseLayer, x: Float32Array, dy: Float32Array, nIn: number, nOut: number): void {
    addInPlace(this.grads[BIAS[layer]], dy);
    this.kernels.add_outer(this.grads[WEIGHT[layer]].byteOffset, x.byteOffset, dy.byteOffset, nIn, nOut);
  }

  private slotOf(row: number): number {
    let s = this.rowSlot[row];
    if (s >= 0) return s;
    s = this.touchedCount++;
    if (s >= this.touched.length) throw new Error(`a batch touched more than ${this.touched.length} embedding rows (maxTouchedRows)`);
    this.touched[s] = row;
    this.rowSlot[row] = s;
    return s;
  }
}

/** What a training network's memory holds beyond the weights: gradient slots for touched embedding rows, and the optimizer's two moments per tensor. */
export interface TrainingSizing {
  maxTouchedRows: number;
  /** Floats of each tensor's first and second moment (optimizer.ts `adamShapes`). */
  moments: Record<string, { m: number; v: number }>;
}

function momentLengths(optimizer: AdamState): TrainingSizing["moments"] {
  return Object.fromEntries(Object.keys(optimizer.v).map((name) => [name, { m: optimizer.m[name]?.length ?? 0, v: optimizer.v[name].length }]));
}

/** Bytes of the WebAssembly memory a network of `arch` allocates (for training when `sizing` is given): the layout it is built with, measured. */
export function networkBytes(arch: Arch, sizing?: TrainingSizing): number {
  return measure((a) => layout(a, arch, sizing));
}

/** Every buffer of a network, in the order they sit in its memory. */
function layout(a: Allocator, arch: Arch, training: TrainingSizing | undefined) {
  const { dim: D, hidden: H, classes: C } = arch;
  const shapes = Object.entries(tensorShapes(arch));
  const tensors = (names: [string, [number, number]][]): Tensors => Object.fromEntries(names.map(([name, [r, c]]) => [name, a.f32(r * c)]));
  const dense = shapes.filter(([name]) => name !== "embedding.weight");
  const moments = (): Tensors => (training ? Object.fromEntries(shapes.map(([name]) => [name, a.f32(training.moments[name]?.m ?? 0)])) : {});
  const variances = (): Tensors => (training ? Object.fromEntries(shapes.map(([name]) => [name, a.f32(training.moments[name]?.v ?? 0)])) : {});
  const rows = training ? training.maxTouchedRows : 0;
  return {
    params: tensors(shapes),
    grads: training ? tensors(dense) : {},
    moments: { m: moments(), v: variances() },
    touched: a.i32(rows),
    embGrad: a.f32(rows * D),
    idx: a.i32(CHUNK),
    val: a.f32(CHUNK),
    slot: a.i32(CHUNK),
    e: a.f32(D),
    m0: a.f32(D),
    a1: a.f32(H),
    h1: a.f32(H),
    m1: a.f32(H),
    a2: a.f32(H),
    h2: a.f32(H),
    m2: a.f32(H),
    logits: a.f32(C),
    probs: a.f32(C),
    dz: a.f32(C),
    dh2: a.f32(H),
    dh1: a.f32(H),
    de: a.f32(D),
  };
}

function addInPlace(x: Float32Array, y: Float32Array): void {
  for (let i = 0; i < x.length; i++) x[i] += y[i];
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
