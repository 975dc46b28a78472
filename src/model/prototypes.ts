/**
 * The prototype head of a few-shot model: each class's mean vector in the
 * semantic embedder's space (the built-in base's SIF vectors with hashed
 * n-grams), and at inference a softmax over the cosine similarity of the
 * text to each — mixed with the network's probabilities by `prototype_weight`.
 * It needs no training, so it answers well from one example per class.
 */
import { LocalSemanticEmbedder } from "../memory/embedder.ts";

export interface PrototypeHead {
  /** classes × dim, each row unit length (a class with no example: zeros). */
  vectors: Float32Array;
  dim: number;
  /** Share of the head in the answer's probabilities. */
  weight: number;
  /** Softmax temperature over cosine similarities. */
  temperature: number;
}

let embedder: LocalSemanticEmbedder | null = null;
const semantic = () => (embedder ??= new LocalSemanticEmbedder());

/** Class prototypes from the texts `inputs[rows[k]]` labelled `labels[rows[k]]`. */
export function classPrototypes(inputs: readonly string[], labels: Int32Array, rows: ArrayLike<number>, classes: number): Float32Array {
  const e = semantic();
  const out = new Float32Array(classes * e.dim);
  for (let k = 0; k < rows.length; k++) {
    const r = rows[k];
    const v = e.embedOne(inputs[r]);
    const at = labels[r] * e.dim;
    for (let d = 0; d < e.dim; d++) out[at + d] += v[d];
  }
  for (let c = 0; c < classes; c++) {
    let norm = 0;
    for (let d = 0; d < e.dim; d++) norm += out[c * e.dim + d] ** 2;
    const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let d = 0; d < e.dim; d++) out[c * e.dim + d] *= inv;
  }
  return out;
}

/** Mixes the head's probabilities for `text` into `probs` (the network's), in place. */
export function mixPrototypes(head: PrototypeHead, text: string, probs: Float32Array): void {
  const v = semantic().embedOne(text);
  const C = probs.length;
  const s = new Float64Array(C);
  let max = -Infinity;
  for (let c = 0; c < C; c++) {
    let dot = 0;
    for (let d = 0; d < head.dim; d++) dot += head.vectors[c * head.dim + d] * v[d];
    s[c] = dot / head.temperature;
    if (s[c] > max) max = s[c];
  }
  let z = 0;
  for (let c = 0; c < C; c++) z += s[c] = Math.exp(s[c] - max);
  for (let c = 0; c < C; c++) probs[c] = (1 - head.weight) * probs[c] + (head.weight * s[c]) / z;
}
