/** freeze_layers: the named layers keep their initial weights through training (and the refit); the others learn. */
import { describe, expect, it } from "vitest";
import { fit } from "../../src/model/fit.ts";
import { initState } from "../../src/model/trainer.ts";
import { prepare } from "../../src/model/prepare.ts";
import { layerOf, type LayerName } from "../../src/model/network.ts";
import type { Hyper } from "../../src/model/hyper.ts";
import { DEFAULT_HYPER } from "../../src/model/hyper.ts";
import { FAQ_TRAIN } from "../helpers.ts";

const hyper = (frozen: LayerName[]): Hyper => ({
  ...DEFAULT_HYPER,
  seed: 9,
  epochs: 3,
  features: { ...DEFAULT_HYPER.features, buckets: 4096 },
  dim: 16,
  hidden: 16,
  ensemble: 2,
  refit: true,
  early_stopping: null,
  freeze_layers: frozen,
});

const layerOfTensor = (name: string) => layerOf(name.slice(name.indexOf("/") + 1));

describe("freeze_layers", () => {
  it.each([[["embedding", "early_layers"]], [["late_layers", "output"]], [["output"]]] as LayerName[][][])("keeps %j exactly as initialized; the other layers change", (frozen) => {
    const h = hyper(frozen);
    const initial = initState(prepare(FAQ_TRAIN, h), h).params;
    const trained = fit(FAQ_TRAIN, h).model.params;
    expect(Object.keys(trained).sort()).toEqual(Object.keys(initial).sort());
    for (const [name, weights] of Object.entries(trained)) {
      const same = weights.every((w, i) => Object.is(w, initial[name][i]));
      expect(same, `${name} ${frozen.includes(layerOfTensor(name)) ? "is frozen and must not" : "is trained and must"} change`).toBe(frozen.includes(layerOfTensor(name)));
    }
  });
});
