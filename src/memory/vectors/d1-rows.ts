/** Reading an agent's vectors from D1 (memory_vectors): page by page, and the version-scope filter. */
import { and, eq, inArray, isNull, or, sql, type SQL } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import { memoryVectors, type MemoryType } from "../../db/schema.ts";

const SCAN_PAGE = 2000;

/** The vectors a query of `asking` may see: the agent's and that version's. */
function scopeFilter(asking: string | null): SQL {
  return asking === null ? isNull(memoryVectors.versionId) : or(isNull(memoryVectors.versionId), eq(memoryVectors.versionId, asking))!;
}

export interface VectorRow {
  id: string;
  memoryType: MemoryType;
  versionId: string | null;
  dim: number;
  /** SQLite's hex() of the Float32 blob (codec.ts fromHex). */
  hex: string;
}

/** The agent's vectors (of `types` and in the scope of `versionId`, when given) from D1, page by page (keyset on rowid). */
export async function* vectorPages(
  db: Db,
  appId: string,
  agentId: string,
  only?: { types?: readonly MemoryType[]; versionId: string | null },
): AsyncGenerator<VectorRow[]> {
  let after = 0;
  for (;;) {
    const where = [eq(memoryVectors.appId, appId), eq(memoryVectors.agentId, agentId), sql`rowid > ${after}`];
    if (only?.types && only.types.length > 0) where.push(inArray(memoryVectors.memoryType, [...only.types]));
    if (only) where.push(scopeFilter(only.versionId));
    const page = await db
      .select({
        rowid: sql<number>`rowid`,
        id: memoryVectors.id,
        memoryType: memoryVectors.memoryType,
        versionId: memoryVectors.versionId,
        dim: memoryVectors.dim,
        hex: sql<string>`hex(${memoryVectors.vector})`,
      })
      .from(memoryVectors)
      .where(and(...where))
      .orderBy(sql`rowid`)
      .limit(SCAN_PAGE);
    yield page;
    if (page.length < SCAN_PAGE) return;
    after = page[page.length - 1].rowid;
  }
}
