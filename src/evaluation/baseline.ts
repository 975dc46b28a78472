/**
 * testAgent's baseline: a nearest-class-centroid classifier on the agent's
 * own features (the version's vocabulary and IDF), trained on the fly from
 * the version's training data. Every comparison with it says what the
 * network adds over the simplest classifier of the same inputs.
 */
import { featurize } from "../model/features.ts";
import type { AgentModel } from "../model/model.ts";
import type { Example } from "../model/hyper.ts";

export class CentroidBaseline {
  readonly classes: string[];
  private readonly centroids: Map<number, number>[];
  private readonly model: AgentModel;

  constructor(model: AgentModel, examples: readonly Example[]) {
    this.model = model;
    const byClass = new Map<string, Map<number, number>>();
    for (const e of examples) {
      const v = this.vector(e.input);
      const c = byClass.get(e.expected_output) ?? new Map<number, number>();
      for (const [k, x] of v) c.set(k, (c.get(k) ?? 0) + x);
      byClass.set(e.expected_output, c);
    }
    this.classes = [...byClass.keys()].sort();
    this.centroids = this.classes.map((name) => {
      const sums = byClass.get(name)!;
      const norm = Math.sqrt([...sums.values()].reduce((s, x) => s + x * x, 0)) || 1;
      return new Map([...sums.entries()].map(([k, x]) => [k, x / norm]));
    });
  }

  /** The input's L2-normalized TF-IDF features as the version sees them. */
  private vector(text: string): Map<number, number> {
    const rows = featurize(text, this.model.features, this.model.vocab, this.model.idf);
    const out = new Map<number, number>();
    for (let j = rows.offsets[0]; j < rows.offsets[1]; j++) out.set(rows.idx[j], (out.get(rows.idx[j]) ?? 0) + rows.val[j]);
    const norm = Math.sqrt([...out.values()].reduce((s, x) => s + x * x, 0)) || 1;
    for (const [k, x] of out) out.set(k, x / norm);
    return out;
  }

  /** The class whose centroid is nearest (cosine). */
  predict(text: string): string {
    const v = this.vector(text);
    let best = 0;
    let bestScore = -Infinity;
    this.centroids.forEach((c, i) => {
      let s = 0;
      for (const [k, x] of v) s += x * (c.get(k) ?? 0);
      if (s > bestScore) {
        bestScore = s;
        best = i;
      }
    });
    return this.classes[best];
  }
}
