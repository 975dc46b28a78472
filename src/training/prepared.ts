/** A run's examples and prepared data (split, featurized), cached per isolate across its steps (a space of the shared isolate cache). */
import { loadExamples } from "../data/datasets.ts";
import type { Example, Hyper } from "../model/hyper.ts";
import { prepareKey, prepareWork, type Prepared } from "../model/prepare.ts";
import type { Slicer } from "../isolate/slices.ts";
import { CacheSpace } from "../isolate/cache.ts";
import { MIB } from "../isolate/budget.ts";

export interface RunData {
  examples: Example[];
  prepared: Prepared;
}

/** A pure function of the dataset and the config fields in its key: safe to reuse across steps. */
const cache = new CacheSpace<RunData>("prepared", 32 * MIB);

/** Bytes the data hold: typed arrays, and about 2 bytes a character plus 160 per example for the texts. */
export function runDataBytes(d: RunData): number {
  const p = d.prepared;
  const arrays = [p.labels, p.train, p.valid, p.all, p.vocab, p.idf, p.x.offsets, p.x.idx, p.x.val];
  const texts = d.examples.reduce((s, e) => s + 2 * (e.input.length + e.expected_output.length) + 160, 0);
  return arrays.reduce((s, a) => s + a.byteLength, 0) + texts;
}

/** `slicer` lets requests in while the data are prepared (a few hundred ms for 10,000 examples). */
export async function runData(bucket: R2Bucket, appId: string, datasetId: string, hyper: Hyper, slicer: Slicer): Promise<RunData> {
  const k = JSON.stringify([appId, datasetId, prepareKey(hyper)]);
  const hit = cache.get(k);
  if (hit) return hit;
  const examples = await loadExamples(bucket, appId, datasetId);
  const data = { examples, prepared: await slicer.run(prepareWork(examples, hyper)) };
  cache.set(k, data, runDataBytes(data));
  return data;
}
