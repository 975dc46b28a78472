/**
 * What happens to detected PII: `redact` replaces a span with its entity
 * (`<EMAIL>`), `mask` keeps the last four letters or digits and stars the
 * rest, `hash` replaces it with a keyed HMAC-SHA-256 pseudonym (`<EMAIL_1f3a9c2e>`:
 * the same value gets the same pseudonym within an app, and cannot be
 * reversed without the app's key), and `drop_example` drops the whole text
 * (the example, the memory field, the logged input) when anything is found.
 */
import { z } from "zod";
import type { PiiSpan } from "./detect.ts";

export const PII_OPERATORS = ["redact", "mask", "hash", "drop_example"] as const;
export const PiiOperatorSchema = z.enum(PII_OPERATORS, { error: () => `operator must be one of ${PII_OPERATORS.join(", ")}` });
export type PiiOperator = z.infer<typeof PiiOperatorSchema>;

/** The app's HMAC key for `hash` (raw bytes, base64url in storage). */
export async function hmacKey(raw: Uint8Array): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
}

async function pseudonym(key: CryptoKey, value: string): Promise<string> {
  const sig = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(value)));
  return Array.from(sig.slice(0, 4), (b) => b.toString(16).padStart(2, "0")).join("");
}

function mask(value: string): string {
  let keep = 4;
  const out = [...value];
  for (let i = out.length - 1; i >= 0; i--) {
    if (!/[\p{L}\p{N}]/u.test(out[i])) continue;
    if (keep > 0) keep--;
    else out[i] = "*";
  }
  return out.join("");
}

/** `text` with its spans replaced; null when the operator drops it and something was found. */
export async function applyOperator(text: string, spans: readonly PiiSpan[], operator: PiiOperator, key: CryptoKey | null): Promise<string | null> {
  if (spans.length === 0) return text;
  if (operator === "drop_example") return null;
  let out = "";
  let at = 0;
  for (const s of spans) {
    const value = text.slice(s.start, s.end);
    const replaced = operator === "redact" ? `<${s.entity}>` : operator === "mask" ? mask(value) : `<${s.entity}_${await pseudonym(key!, value)}>`;
    out += text.slice(at, s.start) + replaced;
    at = s.end;
  }
  return out + text.slice(at);
}
