/**
 * An agent model is an ensemble of `arch.members` networks of one
 * architecture, trained on the same split from different seeds; it answers
 * with the mean of their probabilities. Averaging removes much of the variance a
 * single network has when each class has few examples (BANKING77 with 10
 * per class: +2 points); with plenty of data one member is enough.
 * It averages probabilities.
 *
 * Member k's tensors are named `m<k>/<tensor>` in one flat dictionary, so
 * checkpoints, optimizer state and best-epoch snapshots need no new format.
 */
import type { SparseRows } from "./features.ts";
import { Network, type Arch, type Tensors, type TrainingOptions } from "./network.ts";
import type { AdamState } from "./optimizer.ts";

const PREFIX = /^m(\d+)\/(.*)$/;

/** Member k's tensors, by their plain names (views, not copies). */
export function memberTensors(all: Tensors, k: number): Tensors {
  const out: Tensors = {};
  for (const [name, t] of Object.entries(all)) {
    const m = PREFIX.exec(name);
    if (m && Number(m[1]) === k) out[m[2]] = t;
  }
  return out;
}

/** One dictionary of every member's tensors. */
export function joinMembers(members: readonly Tensors[]): Tensors {
  const out: Tensors = {};
  members.forEach((t, k) => {
    for (const [name, v] of Object.entries(t)) out[`m${k}/${name}`] = v;
  });
  return out;
}

/** Seed of member k (member 0 keeps the run's seed). */
export function memberSeed(seed: number, k: number): number {
  return k === 0 ? seed : (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(k, 0xc2b2ae35)) >>> 0;
}

/** The members' networks and their mean logits. */
export class Ensemble {
  readonly arch: Arch;
  readonly nets: Network[];
  readonly logits: Float32Array;
  readonly probs: Float32Array;

  /**
   * `params` (and, for training, the optimizer state) hold every member's
   * tensors in the ensemble's naming; the networks copy them in.
   */
  constructor(arch: Arch, params: Tensors, training?: TrainingOptions) {
    this.arch = arch;
    this.nets = Array.from({ length: arch.members }, (_, k) => {
      const options = training && {
        maxTouchedRows: training.maxTouchedRows,
        optimizer: { t: training.optimizer.t, m: memberTensors(training.optimizer.m, k), v: memberTensors(training.optimizer.v, k) },
      };
      return new Network(arch, memberTensors(params, k), options);
    });
    this.logits = new Float32Array(arch.classes);
    this.probs = new Float32Array(arch.classes);
  }

  /** The weights, now held by the networks (in the ensemble's naming). */
  get params(): Tensors {
    return joinMembers(this.nets.map((n) => n.params));
  }

  /** The optimizer state, now held by the networks (in the ensemble's naming); null for inference. */
  get optimizer(): AdamState | null {
    const first = this.nets[0].optimizer;
    if (!first) return null;
    return { t: first.t, m: joinMembers(this.nets.map((n) => n.optimizer!.m)), v: joinMembers(this.nets.map((n) => n.optimizer!.v)) };
  }

  /**
   * Row `r` through every member (no dropout): `probs` is the mean of their
   * probabilities, `logits` its logarithm (logits again: softmax(logits / T)
   * recalibrates it, and with one member they are that member's logits up to
   * a constant).
   */
  forward(x: SparseRows, r: number): void {
    if (this.nets.length === 1) {
      this.nets[0].forward(x, r, null, 0);
      this.logits.set(this.nets[0].logits);
      this.probs.set(this.nets[0].probs);
      return;
    }
    this.probs.fill(0);
    const w = 1 / this.nets.length;
    for (const net of this.nets) {
      net.forward(x, r, null, 0);
      for (let c = 0; c < this.probs.length; c++) this.probs[c] += net.probs[c] * w;
    }
    for (let c = 0; c < this.probs.length; c++) this.logits[c] = Math.log(Math.max(this.probs[c], 1e-30));
  }
}
