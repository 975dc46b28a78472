/** GET /evaluations/{id} and GET /evaluations?agent_id=… (testAgent's results). */
import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import { database } from "../db/client.ts";
import { findAgent } from "../agent/versions.ts";
import { EvaluationViewSchema, evaluationView, findEvaluation, listEvaluations } from "../evaluation/start.ts";
import { AgentIdSchema } from "../functions/common.ts";
import type { AppEnv } from "./auth.ts";
import { ERROR_RESPONSES, SECURITY } from "./responses.ts";

export function registerEvaluations(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/evaluations/{id}",
      tags: ["evaluations"],
      summary: "An evaluation (testAgent): status, progress and report",
      security: SECURITY,
      request: { params: z.object({ id: z.string() }) },
      responses: { 200: { description: "The evaluation", content: { "application/json": { schema: EvaluationViewSchema } } }, ...ERROR_RESPONSES },
    }),
    async (c) => {
      const db = database(c.env.DB);
      return c.json(await evaluationView(db, await findEvaluation(db, c.get("appId"), c.req.valid("param").id)), 200);
    },
  );
  app.openapi(
    createRoute({
      method: "get",
      path: "/evaluations",
      tags: ["evaluations"],
      summary: "An agent's evaluations, newest first",
      security: SECURITY,
      request: { query: z.object({ agent_id: AgentIdSchema, limit: z.coerce.number().int().min(1).max(100).default(20) }) },
      responses: { 200: { description: "Evaluations", content: { "application/json": { schema: z.object({ evaluations: z.array(EvaluationViewSchema) }) } } }, ...ERROR_RESPONSES },
    }),
    async (c) => {
      const db = database(c.env.DB);
      const q = c.req.valid("query");
      await findAgent(db, c.get("appId"), q.agent_id);
      const rows = await listEvaluations(db, c.get("appId"), q.agent_id, q.limit);
      return c.json({ evaluations: await Promise.all(rows.map((r) => evaluationView(db, r))) }, 200);
    },
  );
}
