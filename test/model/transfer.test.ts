/** prepareTransferWork: where a transfer's weights start (src/model/transfer.ts). */
import { describe, expect, it } from "vitest";
import { fit } from "../../src/model/fit.ts";
import { DEFAULT_HYPER, type Hyper } from "../../src/model/hyper.ts";
import { memberTensors } from "../../src/model/ensemble.ts";
import { vocabularyRow } from "../../src/model/features.ts";
import { prepareTransferWork, selectClasses } from "../../src/model/transfer.ts";
import { finish } from "../../src/model/work.ts";
import { FAQ_TRAIN } from "../helpers.ts";

const hyper: Hyper = { ...DEFAULT_HYPER, seed: 4, epochs: 2, features: { ...DEFAULT_HYPER.features, buckets: 4096 }, dim: 16, hidden: 16, early_stopping: null };
const answers = [...new Set(FAQ_TRAIN.map((e) => e.expected_output))];

describe("transfer", () => {
  it("starts from the base's rows, dense layers and shared classes' columns; new classes start fresh, vanished ones are gone", () => {
    const base = fit(FAQ_TRAIN.filter((e) => answers.indexOf(e.expected_output) < 12), { ...hyper, ensemble: 1 }).model;
    const data = FAQ_TRAIN.filter((e) => answers.indexOf(e.expected_output) >= 8 && answers.indexOf(e.expected_output) < 16);
    const p = finish(prepareTransferWork(base, data, { ...hyper, seed: 5 }));
    expect(p.classes.sort()).toEqual([...new Set(data.map((e) => e.expected_output))].sort());
    expect(p.members).toBe(3);
    const b = memberTensors(base.params, 0);
    for (let k = 0; k < p.members; k++) {
      const t = memberTensors(p.start!, k);
      expect(Array.from(t["late_layers.weight"])).toEqual(Array.from(b["late_layers.weight"]));
      // A feature both know: the base's row; one only the new data has: not.
      let shared = 0;
      for (let i = 0; i < p.vocab.length; i++) {
        const j = vocabularyRow(base.vocab, p.vocab[i]);
        const row = Array.from(t["embedding.weight"].subarray(i * 16, (i + 1) * 16));
        if (j >= 0) {
          shared++;
          expect(row).toEqual(Array.from(b["embedding.weight"].subarray(j * 16, (j + 1) * 16)));
        }
      }
      expect(shared).toBeGreaterThan(10);
      expect(shared).toBeLessThan(p.vocab.length);
      const C = p.classes.length;
      p.classes.forEach((c, ci) => {
        const j = base.classes.indexOf(c);
        const col = Array.from({ length: 16 }, (_, r) => t["output.weight"][r * C + ci]);
        if (j >= 0) expect(col).toEqual(Array.from({ length: 16 }, (_, r) => b["output.weight"][r * base.classes.length + j]));
        else expect(col).not.toEqual(Array.from({ length: 16 }, (_, r) => b["output.weight"][r * base.classes.length + 0]));
      });
    }
    // selectClasses keeps only the named classes' columns.
    const narrowed = selectClasses(base, new Set(base.classes.slice(0, 3)));
    expect(narrowed.classes).toEqual(base.classes.slice(0, 3));
    expect(narrowed.params["m0/output.bias"].length).toBe(3);
  });
});
