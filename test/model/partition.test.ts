/**
 * A distributed run's layout and parts (src/model/partition.ts): the same
 * held-out rows, vocabulary and IDF as the single chain's preparation; parts
 * that cover the rows without overlap; roles that keep generated rows in
 * training and, federated, each source's rows on its own shard; the layout's
 * encoding round-trips and refuses damaged bytes.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_HYPER, type Example, type Hyper } from "../../src/model/hyper.ts";
import { prepare } from "../../src/model/prepare.ts";
import { finish } from "../../src/model/work.ts";
import { FINAL_TRAIN_SAMPLE, layoutWork, partitionSizes, partRows, partWork, VALID } from "../../src/model/partition.ts";
import { balancedPartitions } from "../../src/model/plan.ts";
import { decodeLayout, encodeLayout } from "../../src/training/layout.ts";
import { canonicalLines, canonicalJsonl } from "../../src/data/examples.ts";
import { CheckpointError } from "../../src/model/checkpoint.ts";
import { FAQ_TRAIN } from "../helpers.ts";

const hyper = (over: Partial<Hyper> = {}): Hyper => ({ ...DEFAULT_HYPER, seed: 5, validation_split: 0.2, distributed: { workers: 3, sync_every: 4 }, ...over });

describe("the layout of a distributed run", () => {
  it("holds out the single chain's rows and learns its vocabulary and IDF exactly", () => {
    const h = hyper();
    const layout = finish(layoutWork([FAQ_TRAIN], h));
    const chain = prepare(FAQ_TRAIN, h);
    expect(layout.classes).toEqual(chain.classes);
    expect([...layout.vocab]).toEqual([...chain.vocab]);
    expect([...layout.idf]).toEqual([...chain.idf]);
    expect(layout.members).toBe(chain.members);
    const held = [...layout.roles.keys()].filter((r) => layout.roles[r] === VALID);
    expect(held).toEqual([...chain.valid]);
    // Training rows (class texts included) dealt round robin: sizes differ by at most one, as the plan assumes.
    const sizes = partitionSizes(layout.roles, layout.shards);
    expect(sizes.partitions).toEqual(balancedPartitions(chain.train.length, 3));
    expect(sizes.n_valid).toBe(chain.valid.length);
  });

  it("cuts parts that cover every row once, and featurizes a part as the chain featurizes those rows", () => {
    const h = hyper();
    const layout = finish(layoutWork([FAQ_TRAIN], h));
    const chain = prepare(FAQ_TRAIN, h);
    const seen = new Int32Array(layout.roles.length);
    for (const part of [{ kind: "shard", shard: 0 }, { kind: "shard", shard: 1 }, { kind: "shard", shard: 2 }, { kind: "valid" }] as const) {
      for (const r of partRows(layout, part, h.seed).rows) seen[r]++;
    }
    expect([...seen].every((n) => n === 1)).toBe(true);
    // Shard 1's rows: the same labels and the same TF-IDF features as the chain's rows.
    const { rows } = partRows(layout, { kind: "shard", shard: 1 }, h.seed);
    const { prepared, examples } = finish(partWork(layout, { kind: "shard", shard: 1 }, h, (r) => FAQ_TRAIN[r]));
    expect(prepared.train.length).toBe(rows.length);
    expect(examples.length).toBe(rows.filter((r) => r < FAQ_TRAIN.length).length);
    rows.forEach((r, k) => {
      expect(prepared.labels[k]).toBe(chain.labels[r]);
      const mine = prepared.x.idx.slice(prepared.x.offsets[k], prepared.x.offsets[k + 1]);
      const theirs = chain.x.idx.slice(chain.x.offsets[r], chain.x.offsets[r + 1]);
      expect([...mine]).toEqual([...theirs]);
      expect([...prepared.x.val.slice(prepared.x.offsets[k], prepared.x.offsets[k + 1])]).toEqual([...chain.x.val.slice(chain.x.offsets[r], chain.x.offsets[r + 1])]);
    });
    // The final part: every held-out row, and training rows up to the sample's size.
    const final = partRows(layout, { kind: "final" }, h.seed);
    expect(final.valid.length).toBe(chain.valid.length);
    expect(final.train.length).toBe(Math.min(FINAL_TRAIN_SAMPLE, chain.train.length));
  });

  it("keeps generated rows in training, and each federated source on its own shard", () => {
    const synthetic: Example[] = FAQ_TRAIN.map((e, i) => (i % 3 === 0 ? { ...e, synthetic: true as const } : e));
    const layout = finish(layoutWork([synthetic], hyper()));
    synthetic.forEach((e, r) => e.synthetic && expect(layout.roles[r]).not.toBe(VALID));

    const sources = [FAQ_TRAIN.slice(0, 100), FAQ_TRAIN.slice(100, 180), FAQ_TRAIN.slice(180)];
    const federated = finish(layoutWork(sources, hyper({ label_examples: false })));
    expect(federated.shards).toBe(3);
    expect(federated.source_rows).toEqual(sources.map((s) => s.length));
    let from = 0;
    sources.forEach((s, k) => {
      for (let r = from; r < from + s.length; r++) expect([VALID, k]).toContain(federated.roles[r]);
      from += s.length;
    });
  });

  it("encodes and decodes the layout, refusing damaged bytes; a dataset is read line by line as written", () => {
    const layout = finish(layoutWork([FAQ_TRAIN], hyper()));
    const back = decodeLayout(encodeLayout(layout));
    expect(back.classes).toEqual(layout.classes);
    expect([...back.vocab]).toEqual([...layout.vocab]);
    expect([...back.idf]).toEqual([...layout.idf]);
    expect([...back.roles]).toEqual([...layout.roles]);
    expect({ ...back, vocab: 0, idf: 0, roles: 0 }).toEqual({ ...layout, vocab: 0, idf: 0, roles: 0 });
    expect(() => decodeLayout(encodeLayout(layout).slice(0, 100))).toThrow(CheckpointError);
    expect(() => decodeLayout(new Uint8Array(3))).toThrow(CheckpointError);

    const bytes = new TextEncoder().encode(canonicalJsonl(FAQ_TRAIN.slice(0, 20)));
    const all = [...canonicalLines(bytes)];
    expect(all.map((l) => l.example)).toEqual(FAQ_TRAIN.slice(0, 20).map(({ input, expected_output }) => ({ input, expected_output })));
    expect([...canonicalLines(bytes, (r) => r % 7 === 0)].map((l) => l.row)).toEqual([0, 7, 14]);
  });
});
