/**
 * Turning validated examples into a stored dataset: cleaning (clean.ts), the
 * app's PII policy applied (before anything is hashed or stored), the data report, the data
 * quality report, the canonical JSONL, its content hash (the dataset id) and
 * the R2 objects (the examples, and the quality report beside them).
 */
import { eq, and } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { datasets } from "../db/schema.ts";
import { DomainError, invalidInput } from "../errors.ts";
import { keys } from "../storage/keys.ts";
import { getBytes, putBytes } from "../storage/objects.ts";
import { sha256Hex } from "../storage/hash.ts";
import type { Slicer } from "../isolate/slices.ts";
import { scrub, type Scrubber } from "../pii/policy.ts";
import type { QualityGate } from "../model/quality-gate.ts";
import { analyzeExamples, canonicalJsonl, parseCanonicalJsonl, type DataReport, type Example } from "./examples.ts";
import { qualityReportWork } from "./quality/report.ts";
import { QualityReportSchema, type QualityReport } from "./quality/schema.ts";
import { cleanExamples, type Preprocessing } from "./clean.ts";

/** A dataset's id: the first 128 bits of the SHA-256 of its canonical JSONL (content-addressed). */
const datasetIdOf = (sha256: string) => `ds_${sha256.slice(0, 32)}`;

/** A dataset whose row exists but whose content is gone from R2. */
export class MissingDatasetError extends DomainError {
  constructor(datasetId: string) {
    super("conflict", "dataset_missing", `dataset ${datasetId} is missing from storage; upload it again`);
  }
}

export type DatasetRow = typeof datasets.$inferSelect;
export type NewDatasetRow = typeof datasets.$inferInsert;

/** What the app's PII policy did to a dataset at ingestion. */
export interface PiiApplied {
  operator: string;
  /** Examples with something replaced, and examples dropped (drop_example). */
  changed: number;
  dropped: number;
  by_entity: Record<string, number>;
}

export interface PendingDataset {
  row: NewDatasetRow;
  /** What cleaning did (recorded in a version's lineage). */
  preprocessing: Preprocessing;
  bytes: Uint8Array;
  examples: Example[];
  report: DataReport;
  quality: QualityReport;
  pii: PiiApplied | null;
}

/** The examples with the policy applied to input and expected_output. */
async function scrubExamples(s: Scrubber, examples: readonly Example[]): Promise<{ examples: Example[]; applied: PiiApplied }> {
  const out: Example[] = [];
  const applied: PiiApplied = { operator: s.policy.operator, changed: 0, dropped: 0, by_entity: {} };
  for (const e of examples) {
    const [input, output] = [await scrub(s, e.input), await scrub(s, e.expected_output)];
    for (const f of [...input.found, ...output.found]) applied.by_entity[f] = (applied.by_entity[f] ?? 0) + 1;
    if (input.text === null || output.text === null) {
      applied.dropped++;
      continue;
    }
    if (input.found.length + output.found.length > 0) applied.changed++;
    out.push({ ...e, input: input.text, expected_output: output.text });
  }
  return { examples: out, applied };
}

export interface BuildOptions {
  /** The app's PII policy, when it applies to datasets. */
  scrubber: Scrubber | null;
  /** Runs the quality report (it trains: pausable work). */
  slicer: Slicer;
}

/** Validates the whole set (throws a 400 naming `path`), applies the PII policy, reports on its quality and computes its id; writes nothing. */
export async function buildDataset(appId: string, examples: readonly Example[], source: "inline" | "jsonl" | "csv", path: string, opts: BuildOptions): Promise<PendingDataset> {
  const cleaned = cleanExamples(examples);
  const scrubbed = opts.scrubber?.policy.apply_to.datasets ? await scrubExamples(opts.scrubber, cleaned.examples) : null;
  const { kept, report, issues } = analyzeExamples(scrubbed?.examples ?? cleaned.examples, (i) => (i < 0 ? path : `${path}.${i}`));
  if (issues.length > 0) throw invalidInput(issues);
  const quality = await opts.slicer.run(qualityReportWork(kept, report));
  const bytes = new TextEncoder().encode(canonicalJsonl(kept));
  const id = datasetIdOf(await sha256Hex(bytes));
  return {
    row: { appId, id, r2Key: keys.dataset(appId, id), examples: report.examples, classes: report.classes, bytes: bytes.length, source, qualityScore: quality.score, createdAt: Date.now() },
    preprocessing: cleaned.preprocessing,
    bytes,
    examples: kept,
    report,
    quality,
    pii: scrubbed?.applied ?? null,
  };
}

/** Content-addressed: storing the same content twice writes the same objects. */
export async function storeDatasetObject(bucket: R2Bucket, ds: PendingDataset): Promise<void> {
  await putBytes(bucket, ds.row.r2Key, ds.bytes, "application/x-ndjson");
  await putBytes(bucket, keys.datasetReport(ds.row.appId, ds.row.id), new TextEncoder().encode(JSON.stringify(ds.quality)), "application/json");
}

export async function findDataset(db: Db, appId: string, id: string): Promise<DatasetRow | undefined> {
  return db.query.datasets.findFirst({ where: and(eq(datasets.appId, appId), eq(datasets.id, id)) });
}

export async function insertDataset(db: Db, row: NewDatasetRow): Promise<void> {
  await db.insert(datasets).values(row).onConflictDoNothing();
}

/** Stores a built dataset unless the same content is stored already (objects first, then its row); the row that was there, if any. */
export async function saveDataset(db: Db, bucket: R2Bucket, ds: PendingDataset): Promise<DatasetRow | undefined> {
  const existing = await findDataset(db, ds.row.appId, ds.row.id);
  if (!existing) {
    await storeDatasetObject(bucket, ds);
    await insertDataset(db, ds.row);
  }
  return existing;
}

export async function loadExamples(bucket: R2Bucket, appId: string, datasetId: string): Promise<Example[]> {
  return parseCanonicalJsonl(new TextDecoder().decode(await datasetBytes(bucket, appId, datasetId)));
}

/** A dataset's canonical JSONL, checked against its id (read line by line: examples.ts `canonicalLines`). */
export async function datasetBytes(bucket: R2Bucket, appId: string, datasetId: string): Promise<Uint8Array> {
  const bytes = await getBytes(bucket, keys.dataset(appId, datasetId));
  if (!bytes) throw new MissingDatasetError(datasetId);
  // Content-addressed: the id is the SHA-256 of the bytes, so an altered object is refused.
  if (datasetIdOf(await sha256Hex(bytes)) !== datasetId) {
    throw new DomainError("conflict", "dataset_tampered", `dataset ${datasetId}'s stored content does not match its SHA-256 (its id): it was altered in storage; upload it again`);
  }
  return bytes;
}

function parseJsonOrNull(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** A stored dataset's quality report; computed (and stored) when it has none yet — a dataset from before reports, or one whose report write was lost. */
export async function datasetQuality(bucket: R2Bucket, slicer: Slicer, row: DatasetRow, examples: () => Promise<readonly Example[]>): Promise<QualityReport> {
  const bytes = await getBytes(bucket, keys.datasetReport(row.appId, row.id));
  // A stored report that does not read as one (an older shape) is computed again.
  const stored = bytes ? QualityReportSchema.safeParse(parseJsonOrNull(new TextDecoder().decode(bytes))) : null;
  if (stored?.success) return stored.data;
  // Only a missing report needs the examples.
  const rows = await examples();
  const { report } = analyzeExamples(rows, String);
  const quality = await slicer.run(qualityReportWork(rows, report));
  await putBytes(bucket, keys.datasetReport(row.appId, row.id), new TextEncoder().encode(JSON.stringify(quality)), "application/json");
  return quality;
}

/** The gate: throws 422 `quality_gate` with the report's summary when the data scores below `min_score` or has a rejected code. */
export function checkQualityGate(quality: QualityReport, gate: QualityGate, path: string): void {
  const below = gate.min_score > 0 && quality.score < gate.min_score;
  const codes = gate.reject_codes.filter((c) => quality.counts[c] > 0);
  if (!below && codes.length === 0) return;
  const reasons = [
    ...(below ? [`its quality score is ${quality.score}, below config.quality_gate.min_score ${gate.min_score}`] : []),
    ...codes.map((c) => `it has ${quality.counts[c]} finding(s) of ${c}, which config.quality_gate.reject_codes refuses`),
  ];
  throw new DomainError("rejected", "quality_gate", `the data in ${path} does not pass the quality gate: ${reasons.join("; ")}; nothing was trained`, {
    details: { quality_report: { score: quality.score, components: quality.components, counts: quality.counts, findings: quality.findings.filter((f) => codes.includes(f.code) || below).slice(0, 100) } },
  });
}
