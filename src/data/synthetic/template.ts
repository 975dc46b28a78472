/**
 * `template` generation: slot grammars defined in the request —
 * "I want to {verb} my {object}" with values for each slot — expanded by
 * seeded draws (every slot a value at random), each template labeled with
 * its expected output.
 */
import { z } from "zod";
import { Rng } from "../../model/rng.ts";
import type { Example } from "../examples.ts";

export const TemplateSchema = z
  .object({
    template: z.string().min(1).max(500).refine((t) => /\{[A-Za-z_][A-Za-z0-9_]*\}/.test(t), "a template names at least one {slot}"),
    slots: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.array(z.string().min(1).max(200)).min(1).max(500)),
    expected_output: z.string().min(1).max(4000),
  })
  .strict()
  .superRefine((t, ctx) => {
    for (const m of t.template.matchAll(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g))
      if (!t.slots[m[1]]) ctx.addIssue({ code: "custom", path: ["slots", m[1]], message: `slot {${m[1]}} of the template has no values` });
  });
export type Template = z.infer<typeof TemplateSchema>;

/** Up to `count` distinct examples from `templates`, in turn. */
export function expandTemplates(templates: readonly Template[], count: number, seed: number): Example[] {
  const rng = new Rng(seed, 0x7e3);
  const seen = new Set<string>();
  const out: Example[] = [];
  for (let tries = 0; out.length < count && tries < count * 20; tries++) {
    const t = templates[tries % templates.length];
    const input = t.template.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, slot: string) => {
      const values = t.slots[slot];
      return values[rng.int(values.length)];
    });
    if (seen.has(input)) continue;
    seen.add(input);
    out.push({ input, expected_output: t.expected_output, synthetic: true });
  }
  return out;
}
