/** deleteAgent, deleteApp and getErasure: erasure as a resumable queue job with a report (src/erasure/job.ts). */
import { z } from "zod";
import { ERASURE_PHASES, ERASURE_STATUSES } from "../db/schema.ts";
import { erasureDeps, erasureView, findErasure, startErasure } from "../erasure/job.ts";
import { invalidInput } from "../errors.ts";
import { memoryServices } from "../memory/store.ts";
import { AgentIdSchema, randomId } from "./common.ts";
import { defineFunction, type FunctionContext } from "./registry.ts";

export const ErasureViewSchema = z.object({
  erasure_id: z.string(),
  app_id: z.string(),
  agent_id: z.string().nullable().describe("null: the whole app"),
  status: z.enum(ERASURE_STATUSES),
  phase: z.enum(ERASURE_PHASES).describe("memories → objects → rows → sweep (after a pause, once more until nothing is found) → done"),
  removed: z.record(z.string(), z.number()).describe("What was removed: memories (with their vectors), objects, and rows:<table>"),
  requested_by: z.string().describe("The key that asked"),
  error: z.string().nullable(),
  created_at: z.string(),
  finished_at: z.string().nullable(),
});

const deps = (ctx: FunctionContext) => erasureDeps(ctx.env, memoryServices(ctx.env, () => randomId("mem")));

export const deleteAgent = defineFunction({
  name: "deleteAgent",
  summary: "Erase an agent: its runs, versions and weights, memories and vectors, executions, feedback, evaluations, and datasets no other agent uses",
  description:
    "The agent disappears at once (calls naming it answer 404); a queued job then removes every row, vector, object and cached copy that belongs to it, and reports what it removed (getErasure). " +
    "The audit log keeps its entries (ids, not data) for its retention period.",
  input: z.object({ agent_id: AgentIdSchema }).strict(),
  output: ErasureViewSchema,
  status: 202,
  async handler(ctx, input) {
    return erasureView(await startErasure(deps(ctx), { id: randomId("era"), appId: ctx.appId, agentId: input.agent_id, requestedBy: ctx.actor }));
  },
});

export const deleteApp = defineFunction({
  name: "deleteApp",
  summary: "Erase the calling key's app: every agent and dataset, its keys, secrets and data keys",
  description:
    "Its keys are revoked at once (this one included); a queued job then removes every row, vector and object of the app, and its data keys. " +
    "confirm_app_id must name the app. The erasure's report stays readable with the deployment's admin secret (GET /admin/erasures/{id}).",
  input: z.object({ confirm_app_id: z.string().min(1).max(64) }).strict(),
  output: ErasureViewSchema,
  status: 202,
  async handler(ctx, input) {
    if (input.confirm_app_id !== ctx.appId) throw invalidInput([{ path: "confirm_app_id", message: "must be the id of the key's app (a safeguard against erasing an app by mistake)" }]);
    return erasureView(await startErasure(deps(ctx), { id: randomId("era"), appId: ctx.appId, agentId: null, requestedBy: ctx.actor }));
  },
});

export const getErasure = defineFunction({
  name: "getErasure",
  summary: "An erasure's status, phase and report",
  description: "What deleteAgent or deleteApp has removed so far, by kind (memories, objects, rows per table).",
  input: z.object({ erasure_id: z.string().regex(/^era_[0-9a-f]{24}$/, "erasure_id must look like era_ followed by 24 hex digits") }).strict(),
  output: ErasureViewSchema,
  status: 200,
  async handler(ctx, input) {
    return erasureView(await findErasure(ctx.db, ctx.appId, input.erasure_id));
  },
});
