/** detectPII, redactPII and setPIIPolicy: the PII detector and the app's policy (src/pii). */
import { z } from "zod";
import { detectPii, PII_ENTITIES } from "../pii/detect.ts";
import { applyOperator, hmacKey, PiiOperatorSchema } from "../pii/redact.ts";
import { PiiPolicySchema, readPolicy, setPolicy } from "../pii/policy.ts";
import { defineFunction } from "./registry.ts";

const EntitiesSchema = z.array(z.enum(PII_ENTITIES, { error: () => `entities must be among ${PII_ENTITIES.join(", ")}` })).min(1);
const TextsSchema = z.array(z.string().max(20_000, "each text must be at most 20000 characters")).min(1, "texts must not be empty").max(100, "at most 100 texts per call");
const SpanSchema = z.object({ entity: z.enum(PII_ENTITIES), start: z.number().int(), end: z.number().int(), score: z.number() });

export const detectPII = defineFunction({
  name: "detectPII",
  summary: "Find personal data in texts",
  description:
    `Entities: ${PII_ENTITIES.join(", ")} — patterns with checksums (Luhn, IBAN mod-97, SSN rules), libphonenumber for phones, and context words for ` +
    "addresses, names and high-entropy tokens. Answers spans (character offsets into each text) with their entity and score; nothing is stored.",
  input: z.object({ texts: TextsSchema, entities: EntitiesSchema.optional() }).strict(),
  output: z.object({ results: z.array(z.object({ spans: z.array(SpanSchema) })) }),
  status: 200,
  async handler(_ctx, input) {
    return { results: input.texts.map((t) => ({ spans: detectPii(t, input.entities) })) };
  },
});

export const redactPII = defineFunction({
  name: "redactPII",
  summary: "Replace personal data in texts",
  description:
    "operator: redact (<EMAIL>), mask (all but the last four letters or digits starred), hash (a pseudonym keyed per app: the same value, the same " +
    "pseudonym), drop_example (the text becomes null when anything is found). Defaults: the app's policy (setPIIPolicy), else redact of every entity. Nothing is stored.",
  input: z.object({ texts: TextsSchema, entities: EntitiesSchema.optional(), operator: PiiOperatorSchema.optional() }).strict(),
  output: z.object({ results: z.array(z.object({ text: z.string().nullable(), found: z.array(z.enum(PII_ENTITIES)) })) }),
  status: 200,
  async handler(ctx, input) {
    const policy = await readPolicy(ctx.db, ctx.appId);
    const operator = input.operator ?? policy?.policy.operator ?? "redact";
    const entities = input.entities ?? policy?.policy.entities ?? [...PII_ENTITIES];
    // Without a policy there is no app key yet: a hash then uses a key made for this call (pseudonyms consistent within it).
    const key = policy?.key ?? (operator === "hash" ? await hmacKey(crypto.getRandomValues(new Uint8Array(32))) : null);
    const results = [];
    for (const t of input.texts) {
      const spans = detectPii(t, entities);
      results.push({ text: await applyOperator(t, spans, operator, key), found: spans.map((s) => s.entity) });
    }
    return { results };
  },
});

export const setPIIPolicy = defineFunction({
  name: "setPIIPolicy",
  summary: "Set the app's PII policy (datasets, memories, execution logs)",
  description:
    "policy: { entities?, operator? ('redact' default), apply_to?: { datasets, memories, executions } (all true by default) } or null to turn it off. " +
    "It applies from now on: to datasets at ingestion (before hashing and storing), to memories when written, and to execution logs (the agent answers " +
    "the raw input; what is logged and cached is scrubbed). Detected spans are never stored where it applies.",
  input: z.object({ policy: PiiPolicySchema.nullable() }).strict(),
  output: z.object({ policy: PiiPolicySchema.nullable() }),
  status: 200,
  async handler(ctx, input) {
    await setPolicy(ctx.db, ctx.appId, input.policy, ctx.now());
    return { policy: input.policy };
  },
});
