/** A run's prepared data (split, featurized), cached per isolate across its steps. */
import { loadExamples } from "../data/datasets.ts";
import { prepare, type Hyper, type Prepared } from "../model/trainer.ts";

/** Prepared data is a pure function of (dataset bytes, seed, split, features): safe to reuse across steps. */
const cache = new Map<string, Prepared>();
const CACHE_ENTRIES = 2;

export async function preparedData(bucket: R2Bucket, appId: string, datasetId: string, hyper: Hyper): Promise<Prepared> {
  const k = JSON.stringify([appId, datasetId, hyper.seed, hyper.validation_split, hyper.features]);
  const hit = cache.get(k);
  if (hit) {
    cache.delete(k);
    cache.set(k, hit);
    return hit;
  }
  const prepared = prepare(await loadExamples(bucket, appId, datasetId), hyper);
  cache.set(k, prepared);
  while (cache.size > CACHE_ENTRIES) cache.delete(cache.keys().next().value!);
  return prepared;
}
