/** Versions and deployment: listVersions, getVersion, promoteVersion, rollbackAgent. */
import { z } from "zod";
import { findAgent, promoteVersion as promote, resolveVersion } from "../agent/versions.ts";
import { previousLive } from "../deploy/history.ts";
import { DeploymentViewSchema, deploymentViews, VersionDetailSchema, versionDetail, versionList, VersionSummarySchema, versionNumbers } from "../deploy/versions-view.ts";
import { conflict } from "../errors.ts";
import { defineFunction } from "./registry.ts";
import { AgentIdSchema, randomId } from "./common.ts";

import { AgentSummarySchema, agentSummaries } from "../deploy/agents-view.ts";

const VersionNumberSchema = z.number({ error: "version must be a version number" }).int().min(1);
const ReasonSchema = z.string().trim().min(1).max(500).optional().describe("Why: kept in the agent's deployment history");

const ChangeOutput = z.object({ agent_id: z.string(), live_version: z.number().int(), previous_version: z.number().int().nullable(), kind: z.string() });

export const listAgents = defineFunction({
  name: "listAgents",
  summary: "The app's agents, with their live version, candidates and active traffic split",
  description: "In agent_id order; after: only agents whose id sorts after it (paging: pass the answer's next_after). listVersions has one agent's versions.",
  input: z.object({ limit: z.number().int().min(1).max(100).default(50), after: AgentIdSchema.optional() }).strict(),
  output: z.object({ agents: z.array(AgentSummarySchema), next_after: z.string().nullable().describe("Pass as after for the next page; null on the last") }),
  status: 200,
  async handler(ctx, input) {
    const agents = await agentSummaries(ctx.db, ctx.appId, input.limit + 1, input.after);
    const page = agents.slice(0, input.limit);
    return { agents: page, next_after: agents.length > input.limit ? page[page.length - 1].agent_id : null };
  },
});

export const listVersions = defineFunction({
  name: "listVersions",
  summary: "An agent's versions, newest first, with their labels and the deployment history",
  description: "Each version: live or candidate, the share of traffic it answers now, what made it, its latest evaluation scores. before: only versions older than that number (paging).",
  input: z.object({ agent_id: AgentIdSchema, limit: z.number().int().min(1).max(100).default(20), before: VersionNumberSchema.optional() }).strict(),
  output: z.object({ agent_id: z.string(), live_version: z.number().int().nullable(), versions: z.array(VersionSummarySchema), deployments: z.array(DeploymentViewSchema) }),
  status: 200,
  async handler(ctx, input) {
    const agent = await findAgent(ctx.db, ctx.appId, input.agent_id);
    const [versions, deployments, numbers] = await Promise.all([versionList(ctx.db, agent, input.limit, input.before), deploymentViews(ctx.db, agent), versionNumbers(ctx.db, agent)]);
    return { agent_id: agent.id, live_version: agent.activeVersionId ? (numbers.get(agent.activeVersionId) ?? null) : null, versions, deployments };
  },
});

export const getVersion = defineFunction({
  name: "getVersion",
  summary: "One version: its label, parameters, metrics and latest evaluation",
  description: "version: a number; the live version when absent.",
  input: z.object({ agent_id: AgentIdSchema, version: VersionNumberSchema.optional() }).strict(),
  output: VersionDetailSchema,
  status: 200,
  async handler(ctx, input) {
    const agent = await findAgent(ctx.db, ctx.appId, input.agent_id);
    return versionDetail(ctx.db, agent, await resolveVersion(ctx.db, agent, input.version));
  },
});

export const promoteVersion = defineFunction({
  name: "promoteVersion",
  summary: "Make a version the agent's live version",
  description:
    "A candidate (from training with deploy 'candidate', or one the safety gate held back), or an earlier version. Immediate; recorded in the deployment history with the reason. executeAgent answers with the live version.",
  input: z.object({ agent_id: AgentIdSchema, version: VersionNumberSchema, reason: ReasonSchema }).strict(),
  output: ChangeOutput,
  status: 200,
  async handler(ctx, input) {
    const agent = await findAgent(ctx.db, ctx.appId, input.agent_id);
    const { live, previous } = await promote(ctx.db, agent, input.version, { action: "promote", actor: ctx.actor, reason: input.reason ?? "promoteVersion", recordId: randomId("dep") }, ctx.now());
    return { agent_id: agent.id, live_version: live.version, previous_version: previous?.version ?? null, kind: live.kind };
  },
});

export const rollbackAgent = defineFunction({
  name: "rollbackAgent",
  summary: "Put an earlier version back live, at once",
  description: "to_version: the version to return to; when absent, the one that was live before the current one went live. Recorded in the deployment history with the reason.",
  input: z.object({ agent_id: AgentIdSchema, to_version: VersionNumberSchema.optional(), reason: ReasonSchema }).strict(),
  output: ChangeOutput,
  status: 200,
  async handler(ctx, input) {
    const agent = await findAgent(ctx.db, ctx.appId, input.agent_id);
    let to = input.to_version;
    if (to === undefined) {
      const current = agent.activeVersionId;
      const before = current ? await previousLive(ctx.db, agent.appId, agent.id, current) : null;
      if (!before) throw conflict("no_previous_version", `agent '${agent.id}' has no earlier live version to roll back to; give to_version`);
      to = (await versionNumbers(ctx.db, agent)).get(before);
      if (to === undefined) throw conflict("no_previous_version", `the version live before is gone; give to_version`);
    }
    const { live, previous } = await promote(ctx.db, agent, to, { action: "rollback", actor: ctx.actor, reason: input.reason ?? "rollbackAgent", recordId: randomId("dep") }, ctx.now());
    return { agent_id: agent.id, live_version: live.version, previous_version: previous?.version ?? null, kind: live.kind };
  },
});
