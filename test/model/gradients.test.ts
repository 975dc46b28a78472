import { describe, expect, it } from "vitest";
import { countRows, inverseDocumentFrequency, weightRows, type NgramHashing } from "../../src/model/features.ts";
import { initParams, Network, tensorShapes, type Arch } from "../../src/model/network.ts";
import { initAdam } from "../../src/model/optimizer.ts";

// Hashed straight into 64 rows (no vocabulary): collisions exercise shared rows.
const features: NgramHashing = { buckets: 64, word_ngrams: 2, char_min: 3, char_max: 4 };
const arch: Arch = { rows: 64, dim: 6, hidden: 5, classes: 3, members: 1 };
const texts = ["reset my password", "where is my parcel", "cancel the order now"];
const counts = countRows(texts, features);
const x = weightRows(counts, inverseDocumentFrequency(counts, [0, 1, 2], features.buckets));
const reg = { dropout: 0, label_smoothing: 0.1 };

/** Loss of the whole small batch under the current parameters. */
function batchLoss(net: Network): number {
  let loss = 0;
  texts.forEach((_, r) => {
    net.forward(x, r, null, 0);
    const C = arch.classes;
    for (let c = 0; c < C; c++) {
      const q = (c === r ? 1 - reg.label_smoothing : 0) + reg.label_smoothing / C;
      loss -= q * Math.log(net.probs[c]);
    }
  });
  return loss / texts.length;
}

describe("backpropagation", () => {
  it("matches central finite differences on every layer", () => {
    const params = initParams(arch, 3);
    // Float64 would be nicer; Float32 with a moderate step is accurate to ~1e-3 relative.
    const net = new Network(arch, params, { maxTouchedRows: arch.rows, optimizer: initAdam(arch, "adagrad") });
    net.zeroGrad();
    texts.forEach((_, r) => {
      net.forward(x, r, null, 0);
      net.backward(x, r, r, reg, false, 1 / texts.length, new Set());
    });
    const h = 2e-3; // small enough to stay clear of ReLU kinks
    let checked = 0;
    for (const name of Object.keys(tensorShapes(arch))) {
      const p = net.params[name];
      // Analytic gradient: dense tensors in net.grads, embedding rows in the touched slots.
      const analytic = (i: number): number => {
        if (name !== "embedding.weight") return net.grads[name][i];
        const row = Math.floor(i / arch.dim);
        for (let k = 0; k < net.touchedCount; k++) if (net.touched[k] === row) return net.embeddingGrad(k)[i % arch.dim];
        return 0;
      };
      const indices = name === "embedding.weight" ? [...new Set(Array.from(x.idx))].slice(0, 6).map((row) => row * arch.dim + 1) : [0, 1, Math.floor(p.length / 2), p.length - 1];
      for (const i of indices) {
        const old = p[i];
        p[i] = old + h;
        const up = batchLoss(net);
        p[i] = old - h;
        const down = batchLoss(net);
        p[i] = old;
        const numeric = (up - down) / (2 * h);
        expect(Math.abs(numeric - analytic(i)), `${name}[${i}]: numeric ${numeric} vs analytic ${analytic(i)}`).toBeLessThan(2e-3 + 0.02 * Math.abs(numeric));
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(25);
  });
});
