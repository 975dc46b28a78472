/** A run's examples and prepared data (split, featurized), cached per isolate across its steps. */
import { loadExamples } from "../data/datasets.ts";
import type { Example, Hyper } from "../model/hyper.ts";
import { prepare, prepareKey, type Prepared } from "../model/prepare.ts";

export interface RunData {
  examples: Example[];
  prepared: Prepared;
}

/** A pure function of the dataset and the config fields in its key: safe to reuse across steps. */
const cache = new Map<string, RunData>();
const CACHE_ENTRIES = 2;

export async function runData(bucket: R2Bucket, appId: string, datasetId: string, hyper: Hyper): Promise<RunData> {
  const k = JSON.stringify([appId, datasetId, prepareKey(hyper)]);
  const hit = cache.get(k);
  if (hit) {
    cache.delete(k);
    cache.set(k, hit);
    return hit;
  }
  const examples = await loadExamples(bucket, appId, datasetId);
  const data = { examples, prepared: prepare(examples, hyper) };
  cache.set(k, data);
  while (cache.size > CACHE_ENTRIES) cache.delete(cache.keys().next().value!);
  return data;
}
