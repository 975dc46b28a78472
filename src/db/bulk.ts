/**
 * Bulk inserts through one JSON parameter per statement:
 *
 *   INSERT INTO t (c1, c2, …) SELECT value->>0, value->>1, … FROM json_each(?) WHERE true
 *
 * D1 allows 100 bound parameters a statement but 2 MB a value, so one
 * statement carries hundreds of rows instead of a handful (5–10× fewer
 * statements for memories and their vectors). Values go through each
 * column's own driver mapping (JSON columns, booleans); blobs travel as hex
 * and come back through unhex(). Rows must give every column.
 *
 * Statements are built lazily, one before it runs: building one takes a few
 * milliseconds of JSON and hex, and between statements the await on D1 lets
 * the isolate serve requests (and local D1, which shares the dev server's
 * thread, is never held for long by one statement).
 */
import { getTableColumns, getTableName, sql, type SQL } from "drizzle-orm";
import type { SQLiteColumn, SQLiteTable } from "drizzle-orm/sqlite-core";
import type { BatchItem } from "drizzle-orm/batch";
import type { Db } from "./client.ts";

/** Largest JSON parameter of one statement, in UTF-8 bytes (D1 allows 2 MB a value). */
const MAX_PARAM_BYTES = 512_000;
const utf8 = new TextEncoder();

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

function isBlob(col: SQLiteColumn): boolean {
  return col.getSQLType() === "blob";
}

function driverValue(col: SQLiteColumn, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  const d = col.mapToDriverValue(v);
  if (isBlob(col)) {
    const bytes = d instanceof Uint8Array ? d : new Uint8Array(d as ArrayBuffer);
    const hex = new Array<string>(bytes.length);
    for (let i = 0; i < bytes.length; i++) hex[i] = HEX[bytes[i]];
    return hex.join("");
  }
  return d;
}

/**
 * SELECTs producing `rows` for `table`, each within the parameter limit,
 * built one at a time as they are taken; pass each to
 * `db.insert(table).select(…)` (add onConflict… as needed).
 */
export function* jsonRowSelects<T extends SQLiteTable>(table: T, rows: readonly T["$inferSelect"][]): Generator<SQL, void, void> {
  const columns = Object.entries(getTableColumns(table)) as [string, SQLiteColumn][];
  const fields = sql.join(
    columns.map(([, col], i) => (isBlob(col) ? sql.raw(`unhex(value->>${i})`) : sql.raw(`value->>${i}`))),
    sql.raw(", "),
  );
  let chunk: string[] = [];
  let bytes = 0;
  const select = () => sql`SELECT ${fields} FROM json_each(${`[${chunk.join(",")}]`}) WHERE true`;
  for (const row of rows) {
    const json = JSON.stringify(columns.map(([key, col]) => driverValue(col, Reflect.get(row, key))));
    const size = utf8.encode(json).length + 1;
    if (size > MAX_PARAM_BYTES) throw new RangeError(`a row of ${getTableName(table)} takes ${size} bytes; at most ${MAX_PARAM_BYTES} fit one statement`);
    if (bytes + size > MAX_PARAM_BYTES) {
      yield select();
      chunk = [];
      bytes = 0;
    }
    chunk.push(json);
    bytes += size;
  }
  if (chunk.length > 0) yield select();
}

/** Runs statements one after another (each is built as it is taken). */
export async function runEach<S extends BatchItem<"sqlite">>(statements: Iterable<S>): Promise<void> {
  for (const statement of statements) await statement;
}

/** Small statements per db.batch: one round trip (and one atomic unit) each. */
const STATEMENTS_PER_BATCH = 10;

/** Runs small statements (id lists, counters) in db.batch calls of STATEMENTS_PER_BATCH. */
export async function runBatched<S extends BatchItem<"sqlite">>(db: Db, statements: readonly S[]): Promise<void> {
  for (let i = 0; i < statements.length; i += STATEMENTS_PER_BATCH) {
    const part = statements.slice(i, i + STATEMENTS_PER_BATCH);
    if (part.length > 0) await db.batch(part as [S, ...S[]]);
  }
}

/** `f` of each item of `items`, lazily (as the items are taken). */
export function* mapIterable<T, U>(items: Iterable<T>, f: (item: T) => U): Generator<U, void, void> {
  for (const item of items) yield f(item);
}
