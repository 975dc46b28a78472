/** promoteVersion: make a version (a candidate, or an earlier one) the agent's live version. */
import { z } from "zod";
import { findAgent, promoteVersion as promote } from "../agent/versions.ts";
import { defineFunction } from "./registry.ts";
import { AgentIdSchema } from "./common.ts";

export const promoteVersion = defineFunction({
  name: "promoteVersion",
  summary: "Make a version the agent's live version",
  description:
    "A candidate that the safety gate held back (or that waited because auto_promote was false), or an earlier version to roll back to. executeAgent answers with the live version.",
  input: z.object({ agent_id: AgentIdSchema, version: z.number({ error: "version must be a version number" }).int().min(1) }).strict(),
  output: z.object({ agent_id: z.string(), live_version: z.number().int(), previous_version: z.number().int().nullable(), kind: z.string() }),
  status: 200,
  async handler(ctx, input) {
    const { live, previous } = await promote(ctx.db, await findAgent(ctx.db, ctx.appId, input.agent_id), input.version, ctx.now());
    return { agent_id: input.agent_id, live_version: live.version, previous_version: previous?.version ?? null, kind: live.kind };
  },
});
