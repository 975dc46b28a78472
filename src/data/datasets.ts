/**
 * Turning validated examples into a stored dataset: the data report, the
 * canonical JSONL, its content hash (the dataset id) and the R2 object.
 */
import { eq, and } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { datasets } from "../db/schema.ts";
import { DomainError, invalidInput } from "../errors.ts";
import { keys } from "../storage/keys.ts";
import { getBytes, putBytes, sha256Hex } from "../storage/objects.ts";
import { analyzeExamples, canonicalJsonl, parseCanonicalJsonl, type DataReport, type Example } from "./examples.ts";

/** A dataset whose row exists but whose content is gone from R2. */
export class MissingDatasetError extends DomainError {
  constructor(datasetId: string) {
    super("conflict", "dataset_missing", `dataset ${datasetId} is missing from storage; upload it again`);
  }
}

export type DatasetRow = typeof datasets.$inferSelect;
export type NewDatasetRow = typeof datasets.$inferInsert;

export interface PendingDataset {
  row: NewDatasetRow;
  bytes: Uint8Array;
  examples: Example[];
  report: DataReport;
}

/** Validates the whole set (throws a 400 naming `path`) and computes its id; writes nothing. */
export async function buildDataset(appId: string, examples: readonly Example[], source: "inline" | "jsonl" | "csv", path: string): Promise<PendingDataset> {
  const { kept, report, issues } = analyzeExamples(examples, (i) => (i < 0 ? path : `${path}.${i}`));
  if (issues.length > 0) throw invalidInput(issues);
  const bytes = new TextEncoder().encode(canonicalJsonl(kept));
  const id = `ds_${(await sha256Hex(bytes)).slice(0, 32)}`;
  return {
    row: { appId, id, r2Key: keys.dataset(appId, id), examples: report.examples, classes: report.classes, bytes: bytes.length, source, createdAt: Date.now() },
    bytes,
    examples: kept,
    report,
  };
}

/** Content-addressed: storing the same content twice writes the same object. */
export async function storeDatasetObject(bucket: R2Bucket, ds: PendingDataset): Promise<void> {
  await putBytes(bucket, ds.row.r2Key, ds.bytes, "application/x-ndjson");
}

export async function findDataset(db: Db, appId: string, id: string): Promise<DatasetRow | undefined> {
  return db.query.datasets.findFirst({ where: and(eq(datasets.appId, appId), eq(datasets.id, id)) });
}

export async function insertDataset(db: Db, row: NewDatasetRow): Promise<void> {
  await db.insert(datasets).values(row).onConflictDoNothing();
}

export async function loadExamples(bucket: R2Bucket, appId: string, datasetId: string): Promise<Example[]> {
  const bytes = await getBytes(bucket, keys.dataset(appId, datasetId));
  if (!bytes) throw new MissingDatasetError(datasetId);
  return parseCanonicalJsonl(new TextDecoder().decode(bytes));
}
