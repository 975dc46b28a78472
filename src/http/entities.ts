/**
 * base44-style entity API for AgentMemory: create, bulk create, list with
 * filter/sort/limit/skip, get, update, delete, and semantic search.
 */
import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import { MEMORY_TYPES } from "../db/schema.ts";
import { database } from "../db/client.ts";
import { invalidInput, notFound, zodIssues } from "../errors.ts";
import { AgentIdSchema, randomId } from "../functions/common.ts";
import { liveMemoriesVersionId } from "../agent/versions.ts";
import { MemoryContentSchema } from "../memory/content.ts";
import { createMemories, deleteMemories, getMemory, listMemories, memoryServices, searchMemories, updateMemory, SORT_FIELDS, type Memory, type NewMemory } from "../memory/store.ts";
import type { AppEnv } from "./auth.ts";
import { ERROR_RESPONSES, SECURITY } from "./responses.ts";

const WORKING_DEFAULT_TTL_S = 3600;
export const MAX_BULK_MEMORIES = 500;

const MemoryFields = {
  memory_type: z.enum(MEMORY_TYPES),
  content: MemoryContentSchema,
  importance: z.number().min(0).max(100),
  confidence: z.number().min(0).max(1),
  tags: z.array(z.string().min(1).max(64)).max(50),
  learned_from: z.string().max(200).nullable(),
};
const ExpiresIn = z.number().int().min(1).max(30 * 86_400);

export const MemoryCreateSchema = z
  .object({
    agent_id: AgentIdSchema,
    ...MemoryFields,
    importance: MemoryFields.importance.default(50),
    confidence: MemoryFields.confidence.default(1),
    tags: MemoryFields.tags.default([]),
    learned_from: MemoryFields.learned_from.optional(),
    expires_in_seconds: ExpiresIn.optional().describe(`Working memories expire (default ${WORKING_DEFAULT_TTL_S} s)`),
  })
  .strict();

const MemoryUpdateSchema = z
  .object({ ...MemoryFields, expires_in_seconds: ExpiresIn })
  .partial()
  .strict();

export const MemorySchema = z.object({
  id: z.string(),
  agent_id: z.string(),
  version_id: z.string().nullable().describe("The version whose training wrote it (only that version uses it); null: every version uses it"),
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

const iso = (ms: number) => new Date(ms).toISOString();
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));

export function memoryView(m: Memory): z.infer<typeof MemorySchema> {
  return {
    id: m.id,
    agent_id: m.agentId,
    version_id: m.versionId,
    memory_type: m.memoryType,
    content: m.content,
    importance: m.importance,
    confidence: m.confidence,
    tags: m.tags,
    learned_from: m.learnedFrom,
    access_count: m.accessCount,
    last_accessed_date: isoOrNull(m.lastAccessedAt),
    expires_date: isoOrNull(m.expiresAt),
    created_date: iso(m.createdAt),
    updated_date: iso(m.updatedAt),
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
  .object({
    agent_id: z.string().max(128),
    memory_type: z.enum(MEMORY_TYPES),
    learned_from: z.string().max(200),
    version_id: z.string().max(64),
    tags: z.string().max(64).describe("the memory's tags contain this tag"),
  })
  .partial()
  .strict();

const SORT_NAMES = Object.keys(SORT_FIELDS) as (keyof typeof SORT_FIELDS)[];
const SortSchema = z
  .string()
  .default("-created_date")
  .transform((s, ctx) => {
    const desc = s.startsWith("-");
    const field = SORT_NAMES.find((f) => f === (desc ? s.slice(1) : s));
    if (!field) {
      ctx.addIssue({ code: "custom", message: `sort must be one of ${SORT_NAMES.join(", ")}, optionally prefixed with -` });
      return z.NEVER;
    }
    return { field, desc };
  });

const ListQuery = z.object({
  filter: z.string().max(2_000).optional().describe('JSON equality filter, e.g. {"agent_id":"a1","memory_type":"semantic","tags":"billing"}'),
  sort: SortSchema.describe(`One of ${SORT_NAMES.join(", ")}; prefix - for descending`),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  skip: z.coerce.number().int().min(0).max(1_000_000).default(0),
});

const SearchSchema = z
  .object({
    agent_id: AgentIdSchema,
    query: z.string().trim().min(1, "query must not be empty").max(2_000),
    top_k: z.number().int().min(1).max(50).default(10),
    memory_types: z.array(z.enum(MEMORY_TYPES)).min(1).max(4).optional(),
    min_score: z.number().min(0).max(1).optional(),
  })
  .strict();

const SearchResultSchema = z.object({
  results: z.array(z.object({ memory: MemorySchema, similarity: z.number(), score: z.number() })),
  scoring: z.string(),
});

const IdParam = z.object({ id: z.string().max(128) });
const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { "application/json": { schema } } });
const body = <T extends z.ZodType>(schema: T) => ({ required: true, content: { "application/json": { schema } } });
const base = "/entities/AgentMemory";
const common = { tags: ["entities"], security: SECURITY };

function parseFilter(raw: string | undefined): z.infer<typeof FilterSchema> {
  if (raw === undefined) return {};
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw invalidInput([{ path: "filter", message: "filter must be a JSON object" }]);
  }
  const parsed = FilterSchema.safeParse(value);
  if (!parsed.success) throw invalidInput(zodIssues(parsed.error, ["filter"]));
  return parsed.data;
}

export function registerEntities(app: OpenAPIHono<AppEnv>): void {
  const services = (env: AppEnv["Bindings"]) => memoryServices(env, () => randomId("mem"));

  app.openapi(
    createRoute({ ...common, method: "post", path: base, summary: "Create a memory", request: { body: body(MemoryCreateSchema) }, responses: { 201: json(MemorySchema, "Created"), ...ERROR_RESPONSES } }),
    async (c) => {
      const s = services(c.env);
      const [m] = await createMemories(s, c.get("appId"), [toNew(c.req.valid("json"), s.now())]);
      return c.json(memoryView(m), 201);
    },
  );

  app.openapi(
    createRoute({
      ...common,
      method: "post",
      path: `${base}/bulk`,
      summary: `Create up to ${MAX_BULK_MEMORIES} memories`,
      request: { body: body(z.array(MemoryCreateSchema).min(1).max(MAX_BULK_MEMORIES)) },
      responses: { 201: json(z.array(MemorySchema), "Created"), ...ERROR_RESPONSES },
    }),
    async (c) => {
      const s = services(c.env);
      const rows = await createMemories(
        s,
        c.get("appId"),
        c.req.valid("json").map((i) => toNew(i, s.now())),
      );
      return c.json(rows.map(memoryView), 201);
    },
  );

  app.openapi(
    createRoute({ ...common, method: "get", path: base, summary: "List memories (filter, sort, limit, skip)", request: { query: ListQuery }, responses: { 200: json(z.array(MemorySchema), "Memories"), ...ERROR_RESPONSES } }),
    async (c) => {
      const q = c.req.valid("query");
      const rows = await listMemories(services(c.env), c.get("appId"), parseFilter(q.filter), q.sort, q.limit, q.skip);
      return c.json(rows.map(memoryView), 200);
    },
  );

  app.openapi(
    createRoute({
      ...common,
      method: "post",
      path: `${base}/search`,
      summary: "Semantic search over an agent's memories (its own and its live version's)",
      request: { body: body(SearchSchema) },
      responses: { 200: json(SearchResultSchema, "Best matches first"), ...ERROR_RESPONSES },
    }),
    async (c) => {
      const input = c.req.valid("json");
      const appId = c.get("appId");
      const hits = await searchMemories(services(c.env), appId, {
        agentId: input.agent_id,
        query: input.query,
        topK: input.top_k,
        versionId: await liveMemoriesVersionId(database(c.env.DB), appId, input.agent_id),
        memoryTypes: input.memory_types,
        minScore: input.min_score,
      });
      return c.json(
        {
          results: hits.map((h) => ({ memory: memoryView(h.memory), similarity: h.similarity, score: h.score })),
          scoring: "score = similarity × (0.5 + 0.5 × importance/100) × (0.75 + 0.25 × 2^(−age_days/30))",
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({ ...common, method: "get", path: `${base}/{id}`, summary: "Get a memory", request: { params: IdParam }, responses: { 200: json(MemorySchema, "The memory"), ...ERROR_RESPONSES } }),
    async (c) => {
      const { id } = c.req.valid("param");
      const m = await getMemory(services(c.env), c.get("appId"), id);
      if (!m) throw notFound("memory", id);
      return c.json(memoryView(m), 200);
    },
  );

  app.openapi(
    createRoute({ ...common, method: "put", path: `${base}/{id}`, summary: "Update a memory", request: { params: IdParam, body: body(MemoryUpdateSchema) }, responses: { 200: json(MemorySchema, "Updated"), ...ERROR_RESPONSES } }),
    async (c) => {
      const s = services(c.env);
      const { id } = c.req.valid("param");
      const p = c.req.valid("json");
      const current = await getMemory(s, c.get("appId"), id);
      if (!current) throw notFound("memory", id);
      const updated = await updateMemory(s, current, {
        ...(p.memory_type !== undefined && { memoryType: p.memory_type }),
        ...(p.content !== undefined && { content: p.content }),
        ...(p.importance !== undefined && { importance: p.importance }),
        ...(p.confidence !== undefined && { confidence: p.confidence }),
        ...(p.tags !== undefined && { tags: p.tags }),
        ...(p.learned_from !== undefined && { learnedFrom: p.learned_from }),
        ...(p.expires_in_seconds !== undefined && { expiresAt: s.now() + p.expires_in_seconds * 1000 }),
      });
      return c.json(memoryView(updated), 200);
    },
  );

  app.openapi(
    createRoute({
      ...common,
      method: "delete",
      path: `${base}/{id}`,
      summary: "Delete a memory and its vector",
      request: { params: IdParam },
      responses: { 200: json(z.object({ deleted: z.string() }), "Deleted"), ...ERROR_RESPONSES },
    }),
    async (c) => {
      const s = services(c.env);
      const { id } = c.req.valid("param");
      if (!(await getMemory(s, c.get("appId"), id))) throw notFound("memory", id);
      await deleteMemories(s, c.get("appId"), [id]);
      return c.json({ deleted: id }, 200);
    },
  );
}
