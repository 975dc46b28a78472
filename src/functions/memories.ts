/** reembedAgentMemories: move an agent's memories to the configured embedder (src/memory/reembed.ts); getMemoryIndex: how they are searched. */
import { z } from "zod";
import { memoryServices } from "../memory/store.ts";
import { reembedAgent } from "../memory/reembed.ts";
import { IndexDescriptionSchema } from "../memory/vectors/index.ts";
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

export const getMemoryIndex = defineFunction({
  name: "getMemoryIndex",
  summary: "How an agent's memories are searched",
  description:
    "The vector index behind the agent's memory search: its vectors and embedder, and how a search runs. An agent of up to about 10k vectors (384 dimensions) is searched by exact cosine " +
    "from the isolate's copy; up to about 140k, by Hamming distance over one-bit-per-dimension sketches in the isolate, the best 400 (or 10 per result) re-ranked by exact cosine; " +
    "beyond, by a scan of D1. The copy is patched from the log of changed vectors, not reloaded on every write.",
  input: z.object({ agent_id: AgentIdSchema }).strict(),
  output: IndexDescriptionSchema.extend({ agent_id: z.string() }),
  status: 200,
  async handler(ctx, input) {
    const description = await memoryServices(ctx.env, () => randomId("mem")).index.describe(ctx.appId, input.agent_id);
    return { agent_id: input.agent_id, ...description };
  },
});
