/**
 * Training examples: their schema, limits, and the data report (duplicates,
 * contradicting labels, class count) that every dataset passes through.
 */
import { z } from "zod";
import type { Issue } from "../errors.ts";
import { EXAMPLE_TEXT_LIMITS, TextExampleSchema } from "../model/hyper.ts";
import { boundedJson } from "../json.ts";

export const DATA_LIMITS = {
  maxExamples: 100_000,
  maxInputChars: EXAMPLE_TEXT_LIMITS.input,
  maxOutputChars: EXAMPLE_TEXT_LIMITS.expected_output,
  maxClasses: 2_000,
  /** Contradictions and duplicates listed in a report (the counts are complete). */
  maxListed: 20,
} as const;

/** Feedback about an example: a rating, a note, or a small JSON object (at most 4 KB and 8 levels deep). */
export const FeedbackSchema = z.union([z.string().max(2_000), z.number(), z.boolean(), boundedJson(z.record(z.string(), z.unknown()), { maxBytes: 4_096, maxDepth: 8 }, "feedback")]);

/** A training example as datasets hold it: the engine's example and optional feedback about it. */
export const ExampleSchema = TextExampleSchema.extend({
  feedback: FeedbackSchema.optional().describe("Optional rating or note about this example"),
});
export type Example = z.output<typeof ExampleSchema>;

export interface DataReport {
  examples: number;
  classes: number;
  duplicates_removed: number;
  duplicates: { index: number; duplicate_of: number }[];
  contradictions: { input: string; outputs: string[]; indices: number[] }[];
  contradiction_count: number;
}

function key(s: string): string {
  return s.normalize("NFKC").toLowerCase().replace(/\s+/g, " ").trim();
}

/**
 * Drops exact duplicates (same input and output, case- and space-folded),
 * reports inputs that carry different outputs, and checks class limits.
 * `path(i)` names example i in issues (e.g. training_data.3).
 */
export function analyzeExamples(
  examples: readonly Example[],
  path: (i: number) => string,
): { kept: Example[]; report: DataReport; issues: Issue[] } {
  const seen = new Map<string, number>();
  const byInput = new Map<string, { outputs: Set<string>; indices: number[] }>();
  const kept: Example[] = [];
  const duplicates: DataReport["duplicates"] = [];
  let duplicatesRemoved = 0;
  examples.forEach((e, i) => {
    const k = `${key(e.input)}\u0000${e.expected_output}`;
    const first = seen.get(k);
    if (first !== undefined) {
      duplicatesRemoved++;
      if (duplicates.length < DATA_LIMITS.maxListed) duplicates.push({ index: i, duplicate_of: first });
      return;
    }
    seen.set(k, i);
    kept.push(e);
    const entry = byInput.get(key(e.input)) ?? { outputs: new Set(), indices: [] };
    entry.outputs.add(e.expected_output);
    entry.indices.push(i);
    byInput.set(key(e.input), entry);
  });
  const conflicting = [...byInput.entries()].filter(([, v]) => v.outputs.size > 1);
  const contradictions = conflicting.slice(0, DATA_LIMITS.maxListed).map(([, v]) => ({
    input: examples[v.indices[0]].input,
    outputs: [...v.outputs],
    indices: v.indices,
  }));
  const classes = new Set(kept.map((e) => e.expected_output)).size;
  const issues: Issue[] = [];
  if (examples.length > 0 && classes < 2) {
    issues.push({ path: path(-1), message: `needs at least 2 distinct expected_output values to learn from (found ${classes})` });
  }
  if (classes > DATA_LIMITS.maxClasses) {
    issues.push({ path: path(-1), message: `has ${classes} distinct expected_output values; the limit is ${DATA_LIMITS.maxClasses}` });
  }
  return {
    kept,
    issues,
    report: {
      examples: kept.length,
      classes,
      duplicates_removed: duplicatesRemoved,
      duplicates,
      contradictions,
      contradiction_count: conflicting.length,
    },
  };
}

/** Canonical JSONL of examples: the bytes a dataset's content hash is taken over. */
export function canonicalJsonl(examples: readonly Example[]): string {
  return examples.map(canonicalLine).join("\n").concat("\n");
}

/** One example's line of the canonical JSONL (without its newline). */
export function canonicalLine(e: Example): string {
  return JSON.stringify({ input: e.input, expected_output: e.expected_output, ...(e.synthetic && { synthetic: true }), ...(e.feedback !== undefined && { feedback: e.feedback }) });
}

/**
 * The examples of canonical JSONL bytes one line at a time, parsed only where
 * `wanted(row)` holds (every line by default): a dataset read without
 * holding all its examples.
 */
export function* canonicalLines(bytes: Uint8Array, wanted: (row: number) => boolean = () => true): Generator<{ row: number; example: Example }> {
  const decoder = new TextDecoder();
  let row = 0;
  for (let from = 0; from < bytes.length; ) {
    let end = bytes.indexOf(10, from);
    if (end < 0) end = bytes.length;
    if (end > from) {
      if (wanted(row)) yield { row, example: JSON.parse(decoder.decode(bytes.subarray(from, end))) as Example };
      row++;
    }
    from = end + 1;
  }
}

export function parseCanonicalJsonl(text: string): Example[] {
  return text
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Example);
}
