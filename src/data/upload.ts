/**
 * Parsing uploaded datasets: JSONL (one {input, expected_output} object per
 * line) or CSV with a header row (input,expected_output; text,category is
 * accepted too). Every problem is reported with its line.
 */
import Papa from "papaparse";
import { z } from "zod";
import { ExampleSchema, DATA_LIMITS, type Example } from "./examples.ts";
import type { Issue } from "../errors.ts";
import type { QualityCode } from "../model/quality-gate.ts";
import { DatasetNameSchema } from "./names.ts";

export type UploadFormat = "jsonl" | "csv";

const MAX_ISSUES = 50;

/** The data quality code of a row's problem: a field missing, empty, or too long. */
function codeOf(i: z.core.$ZodIssue): { code?: QualityCode } {
  if (i.code === "invalid_type" && i.input === undefined) return { code: "missing_field" };
  if (i.code === "too_small") return { code: i.path[0] === "input" ? "empty_input" : "missing_field" };
  if (i.code === "too_big") return { code: "too_long" };
  return {};
}

function collect(rows: { line: number; value: unknown }[]): { examples: Example[]; issues: Issue[] } {
  const examples: Example[] = [];
  const issues: Issue[] = [];
  for (const { line, value } of rows) {
    const r = ExampleSchema.safeParse(value);
    if (r.success) examples.push(r.data);
    else for (const i of r.error.issues) if (issues.length < MAX_ISSUES) issues.push({ path: ["lines", line, ...i.path].join("."), message: i.message, ...codeOf(i) });
  }
  if (rows.length === 0) issues.push({ path: "body", message: "the dataset has no examples" });
  if (rows.length > DATA_LIMITS.maxExamples) issues.push({ path: "body", message: `the dataset has ${rows.length} examples; the limit is ${DATA_LIMITS.maxExamples}` });
  return { examples, issues };
}

export function parseJsonl(text: string): { examples: Example[]; issues: Issue[] } {
  const rows: { line: number; value: unknown }[] = [];
  const issues: Issue[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    if (raw.trim() === "") return;
    try {
      rows.push({ line: i + 1, value: JSON.parse(raw) });
    } catch {
      if (issues.length < MAX_ISSUES) issues.push({ path: `lines.${i + 1}`, message: "is not valid JSON" });
    }
  });
  const out = collect(rows);
  return { examples: out.examples, issues: [...issues, ...out.issues] };
}

const ALIASES: Record<string, "input" | "expected_output"> = { input: "input", text: "input", expected_output: "expected_output", category: "expected_output", label: "expected_output" };

export function parseCsv(text: string): { examples: Example[]; issues: Issue[] } {
  const parsed = Papa.parse<string[]>(text.replace(/^\uFEFF/, ""), { skipEmptyLines: "greedy" });
  const [header, ...data] = parsed.data;
  const issues: Issue[] = parsed.errors.slice(0, MAX_ISSUES).map((e) => ({ path: `lines.${(e.row ?? 0) + 1}`, message: e.message }));
  if (!header) return { examples: [], issues: [{ path: "body", message: "the CSV is empty" }] };
  const cols = header.map((h) => ALIASES[h.trim().toLowerCase()]);
  const inputCol = cols.indexOf("input");
  const outputCol = cols.indexOf("expected_output");
  if (inputCol < 0 || outputCol < 0) {
    return { examples: [], issues: [{ path: "lines.1", message: `the header must name the columns input and expected_output (found: ${header.join(", ")})` }] };
  }
  const rows = data.map((r, i) => ({ line: i + 2, value: { input: r[inputCol], expected_output: r[outputCol] } }));
  const out = collect(rows);
  return { examples: out.examples, issues: [...issues, ...out.issues] };
}

export const UploadQuerySchema = z.object({
  format: z.enum(["jsonl", "csv"]).optional().describe("Format of the body; taken from Content-Type when absent"),
  name: DatasetNameSchema.optional().describe("Store it as the next version of this named dataset (version 1 when new; unchanged when the latest version holds the same content)"),
  append: z
    .enum(["true", "false"], { error: () => "append must be true or false" })
    .optional()
    .transform((v) => v === "true")
    .describe("With name: the next version is the latest version's examples followed by these (duplicates removed): how a dataset larger than one request's 10 MB is uploaded, part by part"),
});

export function formatOf(contentType: string | undefined, explicit: UploadFormat | undefined): UploadFormat | null {
  if (explicit) return explicit;
  const ct = (contentType ?? "").toLowerCase();
  if (ct.includes("csv")) return "csv";
  if (ct.includes("ndjson") || ct.includes("jsonl") || ct.includes("jsonlines")) return "jsonl";
  return null;
}

/** The byte offset of the first byte that is not valid UTF-8, or -1. */
export function invalidUtf8At(b: Uint8Array): number {
  for (let i = 0; i < b.length; ) {
    const x = b[i];
    const n = x < 0x80 ? 0 : x >= 0xc2 && x < 0xe0 ? 1 : x >= 0xe0 && x < 0xf0 ? 2 : x >= 0xf0 && x < 0xf5 ? 3 : -1;
    if (n < 0 || i + n >= b.length) return i;
    for (let k = 1; k <= n; k++) if ((b[i + k] & 0xc0) !== 0x80) return i;
    // Overlong 3- and 4-byte forms, surrogates, and code points above U+10FFFF.
    if (n === 2 && ((x === 0xe0 && b[i + 1] < 0xa0) || (x === 0xed && b[i + 1] >= 0xa0))) return i;
    if (n === 3 && ((x === 0xf0 && b[i + 1] < 0x90) || (x === 0xf4 && b[i + 1] >= 0x90))) return i;
    i += n + 1;
  }
  return -1;
}

/** The body as text, or the issue naming the line where it stops being UTF-8. */
export function decodeUpload(bytes: Uint8Array): { text: string } | { issue: Issue } {
  const bad = invalidUtf8At(bytes);
  if (bad < 0) return { text: new TextDecoder().decode(bytes) };
  let line = 1;
  for (let i = 0; i < bad; i++) if (bytes[i] === 0x0a) line++;
  return { issue: { path: `lines.${line}`, message: `is not valid UTF-8 (byte ${bad} of the body): send the file encoded as UTF-8`, code: "encoding" } };
}
