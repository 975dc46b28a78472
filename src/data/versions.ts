/**
 * Named, versioned datasets: a name's versions in order, each an immutable
 * content-addressed dataset with its parent and lineage; references to a
 * dataset by id (`ds_…`) or by name and version; and the diff of two
 * versions (inputs added, removed, relabeled — inputs compared normalized).
 */
import { and, desc, eq } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { datasetVersions } from "../db/schema.ts";
import { conflict, invalidInput, notFound } from "../errors.ts";
import { violatesUnique } from "../db/limits.ts";
import { findDataset, loadExamples, type DatasetRow } from "./datasets.ts";
import { normalizedText } from "./quality/near-duplicates.ts";

export type DatasetVersion = typeof datasetVersions.$inferSelect;


export async function latestVersion(db: Db, appId: string, name: string): Promise<DatasetVersion | undefined> {
  return db.query.datasetVersions.findFirst({ where: and(eq(datasetVersions.appId, appId), eq(datasetVersions.name, name)), orderBy: desc(datasetVersions.version) });
}

/**
 * The name's next version for `datasetId` — or its latest, unchanged, when
 * that already holds the same content (`created` false). Two writers at once:
 * the version number's key lets one win; the other retries once.
 */
/**
 * Adds `datasetId` as the next version of `name`. `parent`: the version the
 * content was built from (an append) — when another version became the
 * latest meanwhile, 409 (its rows would be lost), rather than a version on a
 * stale base.
 */
export async function addVersion(db: Db, appId: string, name: string, datasetId: string, lineage: Record<string, unknown>, now: number, parent?: string | null): Promise<{ version: DatasetVersion; created: boolean }> {
  for (let attempt = 0; ; attempt++) {
    const latest = await latestVersion(db, appId, name);
    if (latest?.datasetId === datasetId) return { version: latest, created: false };
    if (parent !== undefined && (latest?.datasetId ?? null) !== parent) {
      throw conflict("dataset_changed", `dataset '${name}' got a new version while this part was appended to an older one: send the part again (it appends to the latest)`);
    }
    const row: DatasetVersion = { appId, name, version: (latest?.version ?? 0) + 1, datasetId, parentDatasetId: latest?.datasetId ?? null, lineage, createdAt: now };
    try {
      await db.insert(datasetVersions).values(row);
      return { version: row, created: true };
    } catch (e) {
      if (attempt > 0 || !violatesUnique(e, "dataset_versions.app_id, dataset_versions.name, dataset_versions.version")) throw e;
    }
  }
}

export async function listVersions(db: Db, appId: string, name: string): Promise<DatasetVersion[]> {
  const rows = await db.select().from(datasetVersions).where(and(eq(datasetVersions.appId, appId), eq(datasetVersions.name, name))).orderBy(datasetVersions.version);
  if (rows.length === 0) throw notFound("dataset", name);
  return rows;
}

/** The dataset `ref` names: an id, or a name's `version` (its latest when absent). `path` names the field in errors. */
export async function resolveDatasetRef(db: Db, appId: string, ref: string, version: number | undefined, path: string): Promise<{ row: DatasetRow; named: DatasetVersion | null }> {
  if (ref.startsWith("ds_")) {
    if (version !== undefined) throw invalidInput([{ path: "dataset_version", message: "dataset_version goes with a dataset name, not an id (an id is one version already)" }]);
    const row = await findDataset(db, appId, ref);
    if (!row) throw notFound("dataset", ref);
    return { row, named: null };
  }
  const named =
    version === undefined
      ? await latestVersion(db, appId, ref)
      : await db.query.datasetVersions.findFirst({ where: and(eq(datasetVersions.appId, appId), eq(datasetVersions.name, ref), eq(datasetVersions.version, version)) });
  if (!named) throw notFound("dataset", version === undefined ? ref : `${ref} version ${version}`);
  const row = await findDataset(db, appId, named.datasetId);
  if (!row) throw notFound("dataset", `${path} ${ref}`);
  return { row, named };
}

const MAX_LISTED = 50;

export interface DatasetDiff {
  from: { version: number; dataset_id: string; examples: number };
  to: { version: number; dataset_id: string; examples: number };
  added: number;
  removed: number;
  relabeled: number;
  unchanged: number;
  /** The first 50 of each. */
  examples: {
    added: { input: string; expected_output: string }[];
    removed: { input: string; expected_output: string }[];
    relabeled: { input: string; from: string[]; to: string[] }[];
  };
}

export async function diffVersions(db: Db, bucket: R2Bucket, appId: string, name: string, from: number, to: number): Promise<DatasetDiff> {
  const [a, b] = await Promise.all([resolveDatasetRef(db, appId, name, from, "from"), resolveDatasetRef(db, appId, name, to, "to")]);
  const [ea, eb] = await Promise.all([loadExamples(bucket, appId, a.row.id), loadExamples(bucket, appId, b.row.id)]);
  const byInput = (es: typeof ea) => {
    const m = new Map<string, { input: string; labels: Set<string> }>();
    for (const e of es) {
      const k = normalizedText(e.input);
      const entry = m.get(k) ?? m.set(k, { input: e.input, labels: new Set() }).get(k)!;
      entry.labels.add(e.expected_output);
    }
    return m;
  };
  const [ma, mb] = [byInput(ea), byInput(eb)];
  const diff: DatasetDiff = {
    from: { version: from, dataset_id: a.row.id, examples: ea.length },
    to: { version: to, dataset_id: b.row.id, examples: eb.length },
    added: 0,
    removed: 0,
    relabeled: 0,
    unchanged: 0,
    examples: { added: [], removed: [], relabeled: [] },
  };
  const same = (x: Set<string>, y: Set<string>) => x.size === y.size && [...x].every((v) => y.has(v));
  for (const [k, v] of mb) {
    const old = ma.get(k);
    if (!old) {
      diff.added++;
      if (diff.examples.added.length < MAX_LISTED) diff.examples.added.push({ input: v.input, expected_output: [...v.labels][0] });
    } else if (!same(old.labels, v.labels)) {
      diff.relabeled++;
      if (diff.examples.relabeled.length < MAX_LISTED) diff.examples.relabeled.push({ input: v.input, from: [...old.labels], to: [...v.labels] });
    } else diff.unchanged++;
  }
  for (const [k, v] of ma)
    if (!mb.has(k)) {
      diff.removed++;
      if (diff.examples.removed.length < MAX_LISTED) diff.examples.removed.push({ input: v.input, expected_output: [...v.labels][0] });
    }
  return diff;
}

export const versionView = (v: DatasetVersion) => ({
  name: v.name,
  version: v.version,
  dataset_id: v.datasetId,
  parent_dataset_id: v.parentDatasetId,
  lineage: v.lineage,
  created_at: new Date(v.createdAt).toISOString(),
});

