import { describe, expect, it } from "vitest";
import { buildVocabulary, countRows, featurize, inverseDocumentFrequency, vocabularyRow } from "../../src/model/features.ts";
import { Ensemble, joinMembers, memberTensors } from "../../src/model/ensemble.ts";
import { initParams, Network, type Arch } from "../../src/model/network.ts";
import type { Hyper } from "../../src/model/hyper.ts";
import { membersFor, prepare, prepareKey } from "../../src/model/prepare.ts";
import { DEFAULT_HYPER } from "../../src/model/hyper.ts";
import { FAQ_TRAIN } from "../helpers.ts";

const hashing = { buckets: 1 << 20, word_ngrams: 2, char_min: 3, char_max: 4 };

describe("the learned vocabulary", () => {
  it("keeps the most frequent training buckets up to max_rows and drops the rest at inference", () => {
    const texts = ["card arrived", "card lost", "card stolen", "top up failed"];
    const counts = countRows(texts, hashing);
    const all = buildVocabulary(counts, [0, 1, 2, 3], hashing.buckets, 1e9, 1);
    expect(all.length).toBe(new Set(counts.idx).size);
    // min_df 3: only the n-grams of "card" (in three texts) stay.
    const frequent = buildVocabulary(counts, [0, 1, 2, 3], hashing.buckets, 1e9, 3);
    const card = countRows(["card"], hashing);
    expect([...frequent]).toEqual([...card.idx]);
    // max_rows keeps the most frequent first.
    expect([...buildVocabulary(counts, [0, 1, 2, 3], hashing.buckets, frequent.length, 1)]).toEqual([...frequent]);
    // Only training texts count: text 3 is held out, so all of "up" and "failed" but "ed>" (as in "arrived") is unknown.
    const trained = buildVocabulary(counts, [0, 1, 2], hashing.buckets, 1e9, 1);
    const idf = inverseDocumentFrequency(countRows([], hashing), [], trained.length);
    const cfg = { ...hashing, max_rows: 1e9, min_df: 1 };
    expect(featurize("up failed", cfg, trained, idf).idx.length).toBe(1);
    expect(featurize("card", cfg, trained, idf).idx.length).toBe(card.idx.length);
    for (const b of trained) expect(trained[vocabularyRow(trained, b)]).toBe(b);
    expect(vocabularyRow(trained, -1)).toBe(-1);
  });

  it("prepare adds each class's output as a training row (never held out) and sizes the ensemble by the data", () => {
    const hyper: Hyper = { ...DEFAULT_HYPER, seed: 4, validation_split: 0.2 };
    const p = prepare(FAQ_TRAIN, hyper);
    const q = prepare(FAQ_TRAIN, { ...hyper, label_examples: false });
    expect(p.train.length).toBe(q.train.length + p.classes.length);
    expect([...p.valid]).toEqual([...q.valid]);
    expect(Math.max(...p.valid)).toBeLessThan(FAQ_TRAIN.length);
    expect(p.members).toBe(3);
    expect([membersFor(hyper, 2000), membersFor(hyper, 4000), membersFor(hyper, 4001), membersFor({ ...hyper, ensemble: 2 }, 10)]).toEqual([3, 2, 1, 2]);
    // Whatever changes the prepared data changes the key of its cache.
    const keys = [hyper, { ...hyper, dim: 64 }, { ...hyper, ensemble: 1 }, { ...hyper, label_examples: false }, { ...hyper, seed: 5 }].map(prepareKey);
    expect(new Set(keys).size).toBe(keys.length);
    expect(prepareKey({ ...hyper, epochs: 3, learning_rate: 0.1 })).toBe(prepareKey(hyper));
  });
});

describe("the ensemble", () => {
  it("names member tensors m<k>/…, and with one member answers exactly as its network", () => {
    const arch: Arch = { rows: 50, dim: 8, hidden: 6, classes: 4, members: 1 };
    const a = initParams(arch, 1);
    const b = initParams(arch, 2);
    const joined = joinMembers([a, b]);
    expect(Object.keys(joined)).toContain("m1/embedding.weight");
    expect(memberTensors(joined, 1)["output.skip"]).toBe(b["output.skip"]);
    const x = { offsets: Int32Array.from([0, 3]), idx: Int32Array.from([1, 7, 42]), val: Float32Array.from([0.5, 0.5, 0.7]) };
    const one = new Ensemble(arch, joinMembers([a]));
    const net = new Network(arch, a);
    one.forward(x, 0);
    net.forward(x, 0, null, 0);
    expect([...one.logits]).toEqual([...net.logits]);
    // Two members: the mean of their probabilities.
    const two = new Ensemble({ ...arch, members: 2 }, joined);
    const nb = new Network(arch, b);
    two.forward(x, 0);
    nb.forward(x, 0, null, 0);
    for (let c = 0; c < 4; c++) expect(two.probs[c]).toBeCloseTo((net.probs[c] + nb.probs[c]) / 2, 6);
  });
});
