/**
 * An execution's `context` ({ channel: "email", plan: "pro" }) as features of
 * the policy (context_aware adaptation): one token per key and value, added
 * to the input's text, so the network can answer differently by context.
 */
export type ExecutionContext = Record<string, string | number | boolean>;

const clean = (s: string) => s.normalize("NFKC").toLowerCase().replace(/[^\p{L}\p{N}]+/gu, "");

/** Tokens of `context`, in key order: "ctxchannelemail ctxplanpro". */
export function contextTokens(context: ExecutionContext | null | undefined): string {
  if (!context) return "";
  return Object.keys(context)
    .sort()
    .map((k) => `ctx${clean(k)}${clean(String(context[k]))}`)
    .join(" ");
}

/** The text the network reads: the input, and the context's tokens when the version uses them. */
export function modelText(input: string, context: ExecutionContext | null | undefined, useContext: boolean): string {
  const tokens = useContext ? contextTokens(context) : "";
  return tokens ? `${input} ${tokens}` : input;
}

/** A context's segment name (for per-segment reports): "channel=email, plan=pro", or "(none)". */
export function segmentOf(context: ExecutionContext | null | undefined): string {
  if (!context || Object.keys(context).length === 0) return "(none)";
  return Object.keys(context)
    .sort()
    .map((k) => `${k}=${String(context[k])}`)
    .join(", ");
}
