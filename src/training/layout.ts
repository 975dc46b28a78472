/**
 * A distributed run's layout in R2 (model/partition.ts): built once by the
 * round-1 coordinator from the run's datasets, read by every later step.
 *
 * Built in two passes over the datasets (one dataset's bytes at a time — a
 * single dataset's are read once and kept for the second pass), each read
 * line by line (no step holds all of a large dataset's examples). The
 * layout is a pure function of the datasets and the config, so a redelivered
 * coordinator writes the same bytes again.
 *
 * Encoding: a little-endian u32 header length, the JSON header (classes,
 * source rows, shards, members, lengths), padding to 4 bytes, then the
 * vocabulary (Int32), the IDF (Float32) and the roles (Int8).
 */
import { canonicalLines } from "../data/examples.ts";
import { datasetBytes } from "../data/datasets.ts";
import { LayoutBuilder, type Layout } from "../model/partition.ts";
import { CheckpointError } from "../model/checkpoint.ts";
import type { Example, Hyper } from "../model/hyper.ts";
import { CacheSpace } from "../isolate/cache.ts";
import { MIB } from "../isolate/budget.ts";
import type { Slicer } from "../isolate/slices.ts";
import { keys } from "../storage/keys.ts";
import { getBytes, putBytes } from "../storage/objects.ts";
import type { Run } from "./runs.ts";

export interface LayoutSources {
  datasets: R2Bucket;
  checkpoints: R2Bucket;
  slicer: Slicer;
}

/** The datasets a run trains on, in shard order for a federated run. */
export function runDatasets(run: Pick<Run, "datasetId" | "datasetIds">): string[] {
  return run.datasetIds ?? [run.datasetId];
}

/** Immutable once written: reused across the run's steps in an isolate. */
const cache = new CacheSpace<Layout>("layouts", 8 * MIB);

const layoutBytes = (l: Layout) => l.vocab.byteLength + l.idf.byteLength + l.roles.byteLength + l.classes.reduce((s, c) => s + 2 * c.length + 64, 0);

/** The run's layout: from the isolate, from R2, or built and written (the coordinator: `build`). */
export async function runLayout(src: LayoutSources, run: Run, build = false): Promise<Layout> {
  const hit = cache.get(run.id);
  if (hit) return hit;
  const key = keys.runLayout(run.appId, run.id);
  const stored = await getBytes(src.checkpoints, key);
  let layout: Layout;
  if (stored) layout = decodeLayout(stored);
  else if (build) {
    layout = await buildLayout(src, run);
    await putBytes(src.checkpoints, key, encodeLayout(layout));
  } else throw new CheckpointError(`the layout of run ${run.id} is missing`);
  cache.set(run.id, layout, layoutBytes(layout));
  return layout;
}

async function buildLayout(src: LayoutSources, run: Run): Promise<Layout> {
  const hyper: Hyper = run.config;
  const builder = new LayoutBuilder(hyper);
  const ids = runDatasets(run);
  // One dataset's bytes are kept for the second pass; several are read again one at a time (never all held at once).
  let kept: Uint8Array | null = null;
  for (const id of ids) {
    const bytes = await datasetBytes(src.datasets, run.appId, id);
    builder.label(examplesOf(bytes));
    if (ids.length === 1) kept = bytes;
  }
  for (const id of ids) {
    const bytes = kept ?? (await datasetBytes(src.datasets, run.appId, id));
    await src.slicer.run(builder.count(examplesOf(bytes)));
  }
  const layout = builder.finish();
  if (layout.shards !== (run.plan.shards ?? 1)) throw new CheckpointError(`the data give ${layout.shards} shards, the run's plan ${run.plan.shards ?? 1}`);
  return layout;
}

function* examplesOf(bytes: Uint8Array): Generator<Example> {
  for (const { example } of canonicalLines(bytes)) yield example;
}

export function encodeLayout(l: Layout): Uint8Array {
  const header = new TextEncoder().encode(JSON.stringify({ classes: l.classes, source_rows: l.source_rows, shards: l.shards, members: l.members, vocab: l.vocab.length, roles: l.roles.length }));
  const at = Math.ceil((4 + header.length) / 4) * 4;
  const out = new Uint8Array(at + 8 * l.vocab.length + l.roles.length);
  new DataView(out.buffer).setUint32(0, header.length, true);
  out.set(header, 4);
  out.set(new Uint8Array(l.vocab.buffer, l.vocab.byteOffset, l.vocab.byteLength), at);
  out.set(new Uint8Array(l.idf.buffer, l.idf.byteOffset, l.idf.byteLength), at + 4 * l.vocab.length);
  out.set(new Uint8Array(l.roles.buffer, l.roles.byteOffset, l.roles.byteLength), at + 8 * l.vocab.length);
  return out;
}

export function decodeLayout(bytes: Uint8Array): Layout {
  try {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const n = view.getUint32(0, true);
    const h = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + n))) as { classes: string[]; source_rows: number[]; shards: number; members: number; vocab: number; roles: number };
    const at = Math.ceil((4 + n) / 4) * 4;
    if (bytes.length !== at + 8 * h.vocab + h.roles) throw new Error(`${bytes.length} bytes, the header describes ${at + 8 * h.vocab + h.roles}`);
    const copy = bytes.slice(at);
    return {
      classes: h.classes,
      source_rows: h.source_rows,
      shards: h.shards,
      members: h.members,
      vocab: new Int32Array(copy.buffer, 0, h.vocab),
      idf: new Float32Array(copy.buffer, 4 * h.vocab, h.vocab),
      roles: new Int8Array(copy.buffer, 8 * h.vocab, h.roles),
    };
  } catch (e) {
    throw new CheckpointError(`the run's layout cannot be read: ${e instanceof Error ? e.message : String(e)}`);
  }
}
