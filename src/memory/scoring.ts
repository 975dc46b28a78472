/**
 * Retrieval score of a memory for a query:
 *
 *   score = similarity × (0.5 + 0.5 × importance/100) × (0.75 + 0.25 × 2^(−age_days/30))
 *
 * where similarity is the cosine of the query and memory embeddings and age
 * counts from the memory's last update or access. Importance can halve a
 * score; age can lower it by a quarter at most.
 */
export const RECENCY_HALF_LIFE_DAYS = 30;

/** Results per memory type at most, whatever top_k asks. */
export const TYPE_BUDGETS = { semantic: 20, procedural: 10, episodic: 10, working: 5 } as const;

export function retrievalScore(similarity: number, importance: number, lastTouched: number, now: number): number {
  const ageDays = Math.max(0, now - lastTouched) / 86_400_000;
  return similarity * (0.5 + (0.5 * importance) / 100) * (0.75 + 0.25 * Math.pow(2, -ageDays / RECENCY_HALF_LIFE_DAYS));
}

/** Fields that say when a memory applies: rules and demos are embedded by these alone. */
const TRIGGER_FIELDS = ["when", "input", "query", "trigger"] as const;

/**
 * The text a memory is embedded from: its trigger (`when`, `input`, `query`
 * or `trigger`) when it has one, else its string fields (two levels deep),
 * else its JSON.
 */
export function memoryText(content: Record<string, unknown>): string {
  const trigger = TRIGGER_FIELDS.map((f) => content[f]).filter((v): v is string => typeof v === "string" && v.length > 0);
  if (trigger.length > 0) return trigger.join(" \n");
  const parts: string[] = [];
  const walk = (v: unknown, depth: number) => {
    if (typeof v === "string") parts.push(v);
    else if (depth < 2 && v && typeof v === "object") for (const x of Object.values(v)) walk(x, depth + 1);
  };
  walk(content, 0);
  return parts.length > 0 ? parts.join(" \n") : JSON.stringify(content);
}
