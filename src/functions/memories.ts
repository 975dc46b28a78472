/** reembedAgentMemories: move an agent's memories to the configured embedder (src/memory/reembed.ts). */
import { z } from "zod";
import { memoryServices } from "../memory/store.ts";
import { reembedAgent } from "../memory/reembed.ts";
import { defineFunction } from "./registry.ts";
import { AgentIdSchema, randomId } from "./common.ts";

export const reembedAgentMemories = defineFunction({
  name: "reembedAgentMemories",
  summary: "Embed an agent's memories again with the configured embedder",
  description:
    "Vectors keep the name of the embedder that made them, and an agent's memories stay with theirs (a local one keeps working after the default changes). " +
    "This re-embeds every memory of the agent with the configured embedder (EMBEDDINGS: local = semantic, local-hash, openai). If interrupted, call it again.",
  input: z.object({ agent_id: AgentIdSchema }).strict(),
  output: z.object({ agent_id: z.string(), from: z.string().nullable(), to: z.string(), memories: z.number().int() }),
  status: 200,
  async handler(ctx, input) {
    return reembedAgent(memoryServices(ctx.env, () => randomId("mem")), ctx.appId, input.agent_id);
  },
});
