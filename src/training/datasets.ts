/** Datasets in R2 and their prepared (split, featurized) form, cached per isolate. */
import { parseCanonicalJsonl, type Example } from "../data/examples.ts";
import { prepare, type Hyper, type Prepared } from "../model/trainer.ts";
import { keys } from "../storage/keys.ts";
import { getBytes } from "../storage/objects.ts";

export class MissingDatasetError extends Error {}

/** Prepared data is a pure function of (dataset bytes, seed, split, features): safe to reuse across steps. */
const cache = new Map<string, Prepared>();
const CACHE_ENTRIES = 2;

export async function loadExamples(bucket: R2Bucket, appId: string, datasetId: string): Promise<Example[]> {
  const bytes = await getBytes(bucket, keys.dataset(appId, datasetId));
  if (!bytes) throw new MissingDatasetError(`dataset ${datasetId} is missing from storage`);
  return parseCanonicalJsonl(new TextDecoder().decode(bytes));
}

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
