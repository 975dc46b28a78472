/** POST /datasets (JSONL or CSV upload, content-addressed) and GET /datasets/{id}. */
import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import { database } from "../db/client.ts";
import { buildDataset, datasetQuality, findDataset, loadExamples, saveDataset } from "../data/datasets.ts";
import { checkStoredBytes } from "../security/quotas.ts";
import { addVersion, diffVersions, latestVersion, listVersions, resolveDatasetRef, versionView } from "../data/versions.ts";
import { DATA_LIMITS } from "../data/examples.ts";
import { DatasetNameSchema } from "../data/names.ts";
import { decodeUpload, formatOf, parseCsv, parseJsonl, UploadQuerySchema } from "../data/upload.ts";
import type { AppEnv } from "./auth.ts";
import { invalidInput } from "../errors.ts";
import { readPolicy } from "../pii/policy.ts";
import { requestSlicer } from "../isolate/slices.ts";
import { ERROR_RESPONSES, SECURITY } from "./responses.ts";

const DatasetSchema = z.object({
  dataset_id: z.string(),
  quality_score: z.number().nullable(),
  examples: z.number().int(),
  classes: z.number().int(),
  bytes: z.number().int(),
  source: z.string(),
  created_at: z.string(),
});

const VersionSchema = z.object({
  name: z.string(),
  version: z.number().int(),
  dataset_id: z.string(),
  parent_dataset_id: z.string().nullable(),
  lineage: z.record(z.string(), z.unknown()).describe("Where the examples came from (upload, executions, synthetic) and what preprocessing did"),
  created_at: z.string(),
});

const UploadResultSchema = DatasetSchema.extend({
  created: z.boolean().describe("false when the same content was uploaded before (with a name: when the latest version already holds it)"),
  version: VersionSchema.optional().describe("With ?name=: the version this upload is (or the latest, unchanged)"),
  preprocessing: z.record(z.string(), z.unknown()).describe("Cleaning steps (NFKC, control characters, HTML, whitespace) and the examples each changed"),
  data_report: z.record(z.string(), z.unknown()),
  quality_report: z.record(z.string(), z.unknown()).describe("Codes per example and in total, diversity, likely mislabeled examples, identity-term skew, PII, and the quality score 0–100 with its components"),
  pii: z.record(z.string(), z.unknown()).nullable().describe("What the app's PII policy changed at ingestion (null without a policy for datasets)"),
});

const view = (r: { id: string; examples: number; classes: number; bytes: number; source: string; qualityScore?: number | null; createdAt: number }) => ({
  dataset_id: r.id,
  quality_score: r.qualityScore ?? null,
  examples: r.examples,
  classes: r.classes,
  bytes: r.bytes,
  source: r.source,
  created_at: new Date(r.createdAt).toISOString(),
});

export function registerDatasets(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      method: "post",
      path: "/datasets",
      tags: ["datasets"],
      summary: "Upload a dataset (JSONL or CSV with input,expected_output columns)",
      description: "Stored in R2 under the SHA-256 of its canonical content; train on it with trainAgent { dataset_id }.",
      security: SECURITY,
      request: {
        query: UploadQuerySchema,
        body: {
          required: true,
          content: { "application/x-ndjson": { schema: z.string() }, "text/csv": { schema: z.string() } },
        },
      },
      responses: {
        201: { description: "Stored", content: { "application/json": { schema: UploadResultSchema } } },
        200: { description: "Already stored", content: { "application/json": { schema: UploadResultSchema } } },
        ...ERROR_RESPONSES,
      },
    }),
    async (c) => {
      const format = formatOf(c.req.header("content-type"), c.req.valid("query").format);
      if (!format) {
        throw invalidInput([{ path: "format", message: "send Content-Type text/csv or application/x-ndjson, or ?format=csv|jsonl" }]);
      }
      const decoded = decodeUpload(new Uint8Array(await c.req.arrayBuffer()));
      if ("issue" in decoded) throw invalidInput([decoded.issue]);
      const text = decoded.text;
      const parsed = format === "csv" ? parseCsv(text) : parseJsonl(text);
      if (parsed.issues.length > 0) throw invalidInput(parsed.issues);
      const appId = c.get("appId");
      const db = database(c.env.DB);
      const { name, append } = c.req.valid("query");
      if (append && !name) throw invalidInput([{ path: "append", message: "append goes with name: the dataset whose latest version this part extends" }]);
      // An append: the latest version's examples, then this part's.
      const base = append && name ? await latestVersion(db, appId, name) : undefined;
      const before = base ? await loadExamples(c.env.DATASETS, appId, base.datasetId) : [];
      if (before.length + parsed.examples.length > DATA_LIMITS.maxExamples) {
        throw invalidInput([{ path: "body", message: `with the ${before.length} examples of '${name}' version ${base?.version}, the dataset would hold ${before.length + parsed.examples.length}; the limit is ${DATA_LIMITS.maxExamples}` }]);
      }
      const pending = await buildDataset(appId, [...before, ...parsed.examples], format, "body", { scrubber: await readPolicy(db, appId), slicer: requestSlicer() });
      await checkStoredBytes(db, appId, pending.row, c.get("principal").quotas);
      const existing = await saveDataset(db, c.env.DATASETS, pending);
      const lineage = {
        source: "upload",
        format,
        rows: parsed.examples.length,
        ...(append && { appended_to: base ? { version: base.version, dataset_id: base.datasetId, examples: before.length } : null }),
        preprocessing: pending.preprocessing,
        pii: pending.pii,
        duplicates_removed: pending.report.duplicates_removed,
      };
      const named = name ? await addVersion(db, appId, name, pending.row.id, lineage, Date.now(), append ? (base?.datasetId ?? null) : undefined) : null;
      const row = existing ?? { ...pending.row, createdAt: pending.row.createdAt ?? Date.now() };
      const created = named ? named.created : !existing;
      const body = { ...view(row), ...(named && { version: versionView(named.version) }), created, data_report: { ...pending.report }, quality_report: { ...pending.quality }, pii: pending.pii, preprocessing: pending.preprocessing };
      return created ? c.json(body, 201) : c.json(body, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/datasets/{id}",
      tags: ["datasets"],
      summary: "A dataset's metadata (by id, or by name: its latest version)",
      security: SECURITY,
      request: { params: z.object({ id: z.string() }) },
      responses: { 200: { description: "The dataset", content: { "application/json": { schema: DatasetSchema.extend({ version: VersionSchema.optional() }) } } }, ...ERROR_RESPONSES },
    }),
    async (c) => {
      const id = c.req.valid("param").id;
      const { row, named } = await resolveDatasetRef(database(c.env.DB), c.get("appId"), id, undefined, "id");
      return c.json({ ...view(row), ...(named && { version: versionView(named) }) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/datasets/{id}/quality",
      tags: ["datasets"],
      summary: "A dataset's data quality report",
      description: "Codes per example and in total, diversity, likely mislabeled examples (confident learning), identity-term skew, PII, inappropriate content, and the quality score 0–100 with its components.",
      security: SECURITY,
      request: { params: z.object({ id: z.string() }) },
      responses: { 200: { description: "The report", content: { "application/json": { schema: z.record(z.string(), z.unknown()) } } }, ...ERROR_RESPONSES },
    }),
    async (c) => {
      const id = c.req.valid("param").id;
      const { row } = await resolveDatasetRef(database(c.env.DB), c.get("appId"), id, undefined, "id");
      const quality = await datasetQuality(c.env.DATASETS, requestSlicer(), row, () => loadExamples(c.env.DATASETS, row.appId, row.id));
      return c.json({ dataset_id: row.id, ...quality }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/datasets/{name}/versions",
      tags: ["datasets"],
      summary: "A named dataset's versions, oldest first, with their lineage",
      security: SECURITY,
      request: { params: z.object({ name: DatasetNameSchema }) },
      responses: { 200: { description: "The versions", content: { "application/json": { schema: z.object({ name: z.string(), versions: z.array(VersionSchema.extend({ examples: z.number().int(), quality_score: z.number().nullable() })) }) } } }, ...ERROR_RESPONSES },
    }),
    async (c) => {
      const { name } = c.req.valid("param");
      const db = database(c.env.DB);
      const versions = await listVersions(db, c.get("appId"), name);
      const rows = await Promise.all(versions.map((v) => findDataset(db, v.appId, v.datasetId)));
      return c.json({ name, versions: versions.map((v, i) => ({ ...versionView(v), examples: rows[i]?.examples ?? 0, quality_score: rows[i]?.qualityScore ?? null })) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/datasets/{name}/diff",
      tags: ["datasets"],
      summary: "What changed between two versions of a named dataset: inputs added, removed and relabeled",
      security: SECURITY,
      request: {
        params: z.object({ name: DatasetNameSchema }),
        query: z.object({ from: z.coerce.number().int().min(1), to: z.coerce.number().int().min(1) }),
      },
      responses: { 200: { description: "The diff", content: { "application/json": { schema: z.record(z.string(), z.unknown()) } } }, ...ERROR_RESPONSES },
    }),
    async (c) => {
      const { name } = c.req.valid("param");
      const { from, to } = c.req.valid("query");
      return c.json({ name, ...(await diffVersions(database(c.env.DB), c.env.DATASETS, c.get("appId"), name, from, to)) }, 200);
    },
  );
}
