/**
 * base44-style entity API for AgentMemory: create, bulk create, list with
 * filter/sort/limit/skip, get, update, delete, and semantic search.
 */
import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import { MEMORY_TYPES } from "../db/schema.ts";
import { AgentIdSchema, randomId } from "../functions/common.ts";
import { EmbeddingMismatchError } from "../memory/vector-index.ts";
import {
  createMemories,
  deleteMemories,
  getMemory,
  listMemories,
  memoryServices,
  searchMemories,
  updateMemory,
  SORT_FIELDS,
  type Memory,
  type NewMemory,
  type SortField,
} from "../memory/store.ts";
import type { AppEnv } from "./auth.ts";
import { ApiError, invalid, notFound, zodIssues } from "./errors.ts";
import { ERROR_RESPONSES, SECURITY } from "./responses.ts";

const WORKING_DEFAULT_TTL_S = 3600;

const MemoryFields = {
  memory_type: z.enum(MEMORY_TYPES),
  content: z.record(z.string(), z.unknown()).describe("Free JSON, e.g. { type: 'learned_pattern', pattern, confidence, learned_from }"),
  importance: z.number().min(0).max(100),
  confidence: z.number().min(0).max(1),
  tags: z.array(z.string().min(1).max(64)).max(50),
  learned_from: z.string().max(200).nullable(),
};

export const MemoryCreateSchema = z
  .object({
    agent_id: AgentIdSchema,
    ...MemoryFields,
    importance: MemoryFields.importance.default(50),
    confidence: MemoryFields.confidence.default(1),
    tags: MemoryFields.tags.default([]),
    learned_from: MemoryFields.learned_from.optional(),
    expires_in_seconds: z.number().int().min(1).max(30 * 86_400).optional().describe(`Working memories expire (default ${WORKING_DEFAULT_TTL_S} s)`),
  })
  .strict();

const MemoryUpdateSchema = z
  .object({ ...MemoryFields, expires_in_seconds: z.number().int().min(1).max(30 * 86_400) })
  .partial()
  .strict();

export const MemorySchema = z.object({
  id: z.string(),
  agent_id: z.string(),
  memory_type: z.enum(MEMORY_TYPES),
  content: z.record(z.string(), z.unknown()),
  importance: z.number(),
  confidence: z.number(),
  tags: z.array(z.string()),
  learned_from: z.string().nullable(),
  access_count: z.number().int(),
  last_accessed_date: z.string().nullable(),
  expires_date: z.string().nullable(),
  created_date: z.string(),
  updated_date: z.string(),
});

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function memoryView(m: Memory): z.infer<typeof MemorySchema> {
  return {
    id: m.id,
    agent_id: m.agentId,
    memory_type: m.memoryType,
    content: m.content,
    importance: m.importance,
    confidence: m.confidence,
    tags: m.tags,
    learned_from: m.learnedFrom,
    access_count: m.accessCount,
    last_accessed_date: iso(m.lastAccessedAt),
    expires_date: iso(m.expiresAt),
    created_date: iso(m.createdAt)!,
    updated_date: iso(m.updatedAt)!,
  };
}

function toNew(input: z.output<typeof MemoryCreateSchema>, now: number): NewMemory {
  const ttl = input.expires_in_seconds ?? (input.memory_type === "working" ? WORKING_DEFAULT_TTL_S : undefined);
  return {
    agentId: input.agent_id,
    memoryType: input.memory_type,
    content: input.content,
    importance: input.importance,
    confidence: input.confidence,
    tags: input.tags,
    learnedFrom: input.learned_from ?? null,
    expiresAt: ttl === undefined ? null : now + ttl * 1000,
  };
}

const FilterSchema = z
  .object({ agent_id: z.string(), memory_type: z.enum(MEMORY_TYPES), learned_from: z.string(), tags: z.string().describe("the memory's tags contain this tag") })
  .partial()
  .strict();

const ListQuery = z.object({
  filter: z.string().optional().describe('JSON equality filter, e.g. {"agent_id":"a1","memory_type":"semantic","tags":"billing"}'),
  sort: z
    .string()
    .regex(new RegExp(`^-?(${Object.keys(SORT_FIELDS).join("|")})$`), `sort must be one of ${Object.keys(SORT_FIELDS).join(", ")}, optionally prefixed with -`)
    .default("-created_date"),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  skip: z.coerce.number().int().min(0).max(1_000_000).default(0),
});

const SearchSchema = z
  .object({
    agent_id: AgentIdSchema,
    query: z.string().trim().min(1, "query must not be empty").max(2_000),
    top_k: z.number().int().min(1).max(50).default(10),
    memory_types: z.array(z.enum(MEMORY_TYPES)).min(1).optional(),
    min_score: z.number().min(0).max(1).optional(),
  })
  .strict();

const SearchResultSchema = z.object({
  results: z.array(z.object({ memory: MemorySchema, similarity: z.number(), score: z.number() })),
  scoring: z.string(),
});

const IdParam = z.object({ id: z.string() });
const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { "application/json": { schema } } });
const body = <T extends z.ZodType>(schema: T) => ({ body: { required: true, content: { "application/json": { schema } } } });
const base = "/entities/AgentMemory";

async function withIndexErrors<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof EmbeddingMismatchError) throw new ApiError(409, "embedding_mismatch", e.message);
    throw e;
  }
}

export function registerEntities(app: OpenAPIHono<AppEnv>): void {
  const services = (env: AppEnv["Bindings"]) => memoryServices(env, () => randomId("mem"));
  // Routes share one builder, so their handler types are not static: inputs are read with their schemas' types.
  const route = (method: "get" | "post" | "put" | "delete", path: string, summary: string, request: object, ok: object, status = 200) =>
    createRoute({ method, path, tags: ["entities"], summary, security: SECURITY, request, responses: { [status]: ok, ...ERROR_RESPONSES } });

  app.openapi(route("post", base, "Create a memory", body(MemoryCreateSchema), json(MemorySchema, "Created"), 201), async (c) => {
    const s = services(c.env);
    const [m] = await withIndexErrors(() => createMemories(s, c.get("appId"), [toNew(c.req.valid("json" as never), s.now())]));
    return c.json(memoryView(m), 201) as never;
  });

  app.openapi(route("post", `${base}/bulk`, "Create many memories", body(z.array(MemoryCreateSchema).min(1).max(500)), json(z.array(MemorySchema), "Created"), 201), async (c) => {
    const s = services(c.env);
    const input = c.req.valid("json" as never) as z.output<typeof MemoryCreateSchema>[];
    const rows = await withIndexErrors(() => createMemories(s, c.get("appId"), input.map((i) => toNew(i, s.now()))));
    return c.json(rows.map(memoryView), 201) as never;
  });

  app.openapi(route("get", base, "List memories (filter, sort, limit, skip)", { query: ListQuery }, json(z.array(MemorySchema), "Memories")), async (c) => {
    const q = c.req.valid("query" as never) as z.output<typeof ListQuery>;
    let filter: z.infer<typeof FilterSchema> = {};
    if (q.filter !== undefined) {
      let raw: unknown;
      try {
        raw = JSON.parse(q.filter);
      } catch {
        throw invalid([{ path: "filter", message: "filter must be a JSON object" }]);
      }
      const parsed = FilterSchema.safeParse(raw);
      if (!parsed.success) throw invalid(zodIssues(parsed.error, ["filter"]));
      filter = parsed.data;
    }
    const desc = q.sort.startsWith("-");
    const rows = await listMemories(services(c.env), c.get("appId"), filter, { field: q.sort.replace(/^-/, "") as SortField, desc }, q.limit, q.skip);
    return c.json(rows.map(memoryView), 200) as never;
  });

  app.openapi(route("post", `${base}/search`, "Semantic search over an agent's memories", body(SearchSchema), json(SearchResultSchema, "Best matches first")), async (c) => {
    const input = c.req.valid("json" as never) as z.output<typeof SearchSchema>;
    const hits = await withIndexErrors(() =>
      searchMemories(services(c.env), c.get("appId"), { agentId: input.agent_id, query: input.query, topK: input.top_k, memoryTypes: input.memory_types, minScore: input.min_score }),
    );
    return c.json(
      {
        results: hits.map((h) => ({ memory: memoryView(h.memory), similarity: h.similarity, score: h.score })),
        scoring: "score = similarity × (0.5 + 0.5 × importance/100) × (0.75 + 0.25 × 2^(−age_days/30))",
      },
      200,
    ) as never;
  });

  app.openapi(route("get", `${base}/{id}`, "Get a memory", { params: IdParam }, json(MemorySchema, "The memory")), async (c) => {
    const { id } = c.req.valid("param" as never) as { id: string };
    const m = await getMemory(services(c.env), c.get("appId"), id);
    if (!m) throw notFound("memory", id);
    return c.json(memoryView(m), 200) as never;
  });

  app.openapi(route("put", `${base}/{id}`, "Update a memory", { params: IdParam, ...body(MemoryUpdateSchema) }, json(MemorySchema, "Updated")), async (c) => {
    const s = services(c.env);
    const id = (c.req.valid("param" as never) as { id: string }).id;
    const current = await getMemory(s, c.get("appId"), id);
    if (!current) throw notFound("memory", id);
    const p = c.req.valid("json" as never) as z.output<typeof MemoryUpdateSchema>;
    const updated = await withIndexErrors(() =>
      updateMemory(s, current, {
        ...(p.memory_type !== undefined && { memoryType: p.memory_type }),
        ...(p.content !== undefined && { content: p.content }),
        ...(p.importance !== undefined && { importance: p.importance }),
        ...(p.confidence !== undefined && { confidence: p.confidence }),
        ...(p.tags !== undefined && { tags: p.tags }),
        ...(p.learned_from !== undefined && { learnedFrom: p.learned_from }),
        ...(p.expires_in_seconds !== undefined && { expiresAt: s.now() + p.expires_in_seconds * 1000 }),
      }),
    );
    return c.json(memoryView(updated), 200) as never;
  });

  app.openapi(route("delete", `${base}/{id}`, "Delete a memory and its vector", { params: IdParam }, json(z.object({ deleted: z.string() }), "Deleted")), async (c) => {
    const s = services(c.env);
    const { id } = c.req.valid("param" as never) as { id: string };
    if (!(await getMemory(s, c.get("appId"), id))) throw notFound("memory", id);
    await deleteMemories(s, c.get("appId"), [id]);
    return c.json({ deleted: id }, 200) as never;
  });
}
