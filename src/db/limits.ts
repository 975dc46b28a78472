/** D1's limits on one statement, and cutting work to fit them. */

/** D1 binds at most this many parameters in one statement. */
export const D1_MAX_BOUND_PARAMETERS = 100;

/**
 * `items` cut into chunks small enough that a statement binding `perItem`
 * parameters for each item, plus `fixed` parameters of its own, stays
 * within D1_MAX_BOUND_PARAMETERS.
 */
export function chunksWithinParameters<T>(items: readonly T[], perItem: number, fixed = 0): T[][] {
  const size = Math.floor((D1_MAX_BOUND_PARAMETERS - fixed) / perItem);
  if (size < 1) throw new RangeError(`a statement binding ${fixed} + ${perItem} parameters exceeds D1's ${D1_MAX_BOUND_PARAMETERS}`);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Whether `e` is SQLite's refusal of a row that breaks unique index `index` (D1 names the index's columns, `table.column, …`). */
export function violatesUnique(e: unknown, columns: string): boolean {
  const text = e instanceof Error ? `${e.message} ${e.cause instanceof Error ? e.cause.message : ""}` : String(e);
  return text.includes("UNIQUE constraint failed") && text.includes(columns);
}
