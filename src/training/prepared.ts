/**
 * A run's examples and prepared data (split, featurized), cached per isolate
 * across its steps (a space of the shared isolate cache).
 *
 * A training run prepares its dataset. An adaptation run (adapt/start.ts)
 * prepares what its adaptation record's R2 object holds: logged executions
 * over the base version's classes, or corrections that update the base model
 * (whose weights it then reads too); its examples are the labeled ones the
 * version's learned memories come from.
 */
import { and, eq } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { adaptations } from "../db/schema.ts";
import { datasetBytes, loadExamples } from "../data/datasets.ts";
import { canonicalLines } from "../data/examples.ts";
import { partRows, partWork, type Part } from "../model/partition.ts";
import { runDatasets, runLayout } from "./layout.ts";
import type { Example, Hyper } from "../model/hyper.ts";
import { prepareKey, prepareWork, type Prepared } from "../model/prepare.ts";
import { CheckpointError } from "../model/checkpoint.ts";
import { decodeModel, type AgentModel } from "../model/model.ts";
import { prepareTransferWork } from "../model/transfer.ts";
import type { Slicer } from "../isolate/slices.ts";
import { CacheSpace } from "../isolate/cache.ts";
import { MIB } from "../isolate/budget.ts";
import { getBytes } from "../storage/objects.ts";
import { checkWeights } from "../agent/versions.ts";
import { AdaptationDataSchema, anchorFor, prepareAdaptationRun, replaySample, type AdaptationData } from "../adapt/run-data.ts";
import type { Run } from "./runs.ts";

export type Adaptation = typeof adaptations.$inferSelect;

export interface RunData {
  /** Labeled examples (what the version's learned memories come from). */
  examples: Example[];
  prepared: Prepared;
  /** An adaptation run's record, data and the model of the version it adapts. */
  adaptation: { record: Adaptation; data: AdaptationData; base: AgentModel } | null;
}

export interface RunSources {
  db: Db;
  datasets: R2Bucket;
  checkpoints: R2Bucket;
  /** Lets requests in while the data are prepared (a few hundred ms for 10,000 examples). */
  slicer: Slicer;
}

/** A pure function of its key (dataset or adaptation data, and config): safe to reuse across steps. */
const cache = new CacheSpace<RunData>("prepared", 32 * MIB);

/** Bytes the data hold: typed arrays, and about 2 bytes a character plus 160 per example for the texts. */
export function runDataBytes(d: RunData): number {
  const p = d.prepared;
  const arrays: ArrayBufferView[] = [p.labels, p.train, p.valid, p.all, p.vocab, p.idf, p.x.offsets, p.x.idx, p.x.val];
  if (p.logged) arrays.push(p.logged.propensity, p.logged.reward, p.logged.weight);
  if (p.soft) arrays.push(p.soft.targets, p.soft.has);
  for (const t of Object.values(p.start ?? {})) arrays.push(t);
  const texts = d.examples.reduce((s, e) => s + 2 * (e.input.length + e.expected_output.length) + 160, 0);
  const base = d.adaptation?.base ? Object.values(d.adaptation.base.params).reduce((s, t) => s + t.byteLength, 0) : 0;
  return arrays.reduce((s, a) => s + a.byteLength, 0) + texts + base;
}

/**
 * The data a step of `run` trains, validates or finalizes on: the whole run's
 * data — or, in a distributed run, only `part` of it (model/partition.ts;
 * a single chain's steps ignore `part`).
 */
export async function runData(src: RunSources, run: Run, part?: Part): Promise<RunData> {
  const partitioned = run.plan.partitions !== undefined;
  if (partitioned && !part) throw new Error(`run ${run.id} is distributed: its steps read a part of its data`);
  const k = JSON.stringify([run.appId, run.id, run.datasetId, prepareKey(run.config), partitioned ? part : null]);
  const hit = cache.get(k);
  if (hit) return hit;
  const data = partitioned ? await loadPart(src, run, part!) : await load(src, run);
  cache.set(k, data, runDataBytes(data));
  return data;
}

/** A part of a distributed run's data: its rows read from each dataset that holds some (one at a time, line by line) and featurized with the layout's vocabulary. */
async function loadPart(src: RunSources, run: Run, part: Part): Promise<RunData> {
  const layout = await runLayout(src, run);
  const { rows } = partRows(layout, part, run.config.seed);
  const wanted = new Uint8Array(layout.roles.length);
  for (const r of rows) wanted[r] = 1;
  const examples = new Map<number, Example>();
  let offset = 0;
  for (const [s, id] of runDatasets(run).entries()) {
    const n = layout.source_rows[s];
    const from = offset;
    if (wanted.subarray(from, from + n).includes(1)) {
      const bytes = await datasetBytes(src.datasets, run.appId, id);
      for (const { row, example } of canonicalLines(bytes, (r) => wanted[from + r] === 1)) examples.set(from + row, example);
    }
    offset += n;
  }
  const wantedExamples = rows.filter((r) => r < offset).length;
  if (examples.size !== wantedExamples) throw new CheckpointError(`the run's datasets gave ${examples.size} of the ${wantedExamples} rows its layout assigns to this step`);
  const { examples: kept, prepared } = await src.slicer.run(partWork(layout, part, run.config, (r) => examples.get(r)!));
  return { examples: kept, prepared, adaptation: null };
}

async function load(src: RunSources, run: Run): Promise<RunData> {
  const hyper: Hyper = run.config;
  const [record] = await src.db
    .select()
    .from(adaptations)
    .where(and(eq(adaptations.appId, run.appId), eq(adaptations.runId, run.id)))
    .limit(1);
  const anchorAll = await loadExamples(src.datasets, run.appId, run.datasetId);
  if (!record) {
    if (hyper.transfer) {
      const base = await baseModel(src.checkpoints, hyper.transfer.checkpoint_key, hyper.transfer.weights_sha256);
      return { examples: anchorAll, prepared: await src.slicer.run(prepareTransferWork(base, anchorAll, hyper)), adaptation: null };
    }
    return { examples: anchorAll, prepared: await src.slicer.run(prepareWork(anchorAll, hyper)), adaptation: null };
  }
  const data = await adaptationData(src.checkpoints, record);
  const base = await baseModel(src.checkpoints, data.base.checkpoint_key, data.base.weights_sha256);
  if (data.strategy === "online") {
    const prepared = await src.slicer.run(prepareAdaptationRun(data, anchorAll, base, hyper));
    return { examples: [...replaySample(anchorAll, hyper.seed), ...data.learn], prepared, adaptation: { record, data, base } };
  }
  const anchor = anchorFor(anchorAll, data.base.classes);
  const prepared = await src.slicer.run(prepareAdaptationRun(data, anchor, null, hyper));
  return { examples: anchor, prepared, adaptation: { record, data, base } };
}

async function adaptationData(bucket: R2Bucket, record: Adaptation): Promise<AdaptationData> {
  const bytes = record.dataKey ? await getBytes(bucket, record.dataKey) : null;
  if (!bytes) throw new CheckpointError(`the data of adaptation ${record.id} are missing from storage`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new CheckpointError(`the data of adaptation ${record.id} are not JSON`);
  }
  const parsed = AdaptationDataSchema.safeParse(json);
  if (!parsed.success) throw new CheckpointError(`the data of adaptation ${record.id} cannot be read: ${parsed.error.issues[0]?.message ?? "invalid"}`);
  return parsed.data;
}

async function baseModel(bucket: R2Bucket, key: string, weightsSha256: string | null | undefined): Promise<AgentModel> {
  const bytes = await getBytes(bucket, key);
  if (!bytes) throw new CheckpointError("the weights of the version being adapted (or transferred from) are missing from storage");
  await checkWeights(bytes, weightsSha256, "the version being adapted (or transferred from)");
  return decodeModel(bytes);
}
