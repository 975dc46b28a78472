/**
 * Preprocessing at ingestion, recorded per dataset version: Unicode NFKC,
 * control characters removed, HTML tags stripped (and the common entities
 * decoded) where a text holds markup, whitespace collapsed. Applied to input
 * and expected output before anything else (PII, de-duplication, hashing).
 */
import type { Example } from "./examples.ts";

const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u200B-\u200D\u2060\uFEFF]/g;
const TAG = /<\/?[a-zA-Z][a-zA-Z0-9-]*(?:\s[^<>]*)?\/?>/g;
const ENTITIES: Record<string, string> = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#39;": "'", "&apos;": "'", "&nbsp;": " " };

export interface Preprocessing {
  steps: string[];
  /** Examples each step changed. */
  changed: Record<string, number>;
}

const STEPS: [string, (s: string) => string][] = [
  ["nfkc", (s) => s.normalize("NFKC")],
  ["control_characters", (s) => s.replace(CONTROL, "")],
  ["html", (s) => (TAG.test(s) ? s.replace(TAG, " ").replace(/&(?:amp|lt|gt|quot|#39|apos|nbsp);/g, (m) => ENTITIES[m]) : s)],
  ["whitespace", (s) => s.replace(/\s+/g, " ").trim()],
];

/** `text` through every step. */
export function cleanText(text: string): string {
  return STEPS.reduce((s, [, f]) => f(s), text);
}

/** The examples cleaned (an example left empty is dropped), and what each step changed. */
export function cleanExamples(examples: readonly Example[]): { examples: Example[]; preprocessing: Preprocessing } {
  const changed: Record<string, number> = Object.fromEntries(STEPS.map(([n]) => [n, 0]));
  changed.emptied = 0;
  const out: Example[] = [];
  for (const e of examples) {
    let input = e.input;
    let output = e.expected_output;
    for (const [name, f] of STEPS) {
      TAG.lastIndex = 0;
      const [i2, o2] = [f(input), f(output)];
      if (i2 !== input || o2 !== output) changed[name]++;
      [input, output] = [i2, o2];
    }
    if (!input || !output) {
      changed.emptied++;
      continue;
    }
    out.push({ ...e, input, expected_output: output });
  }
  return { examples: out, preprocessing: { steps: STEPS.map(([n]) => n), changed } };
}
