/** setLLMCredentials and configureAnswerer: language models for an app's agents (src/llm). */
import { z } from "zod";
import { AnswererSchema } from "../llm/answerer.ts";
import { configureAnswerer as configure } from "../llm/configure.ts";
import { credentialsInfo, deleteCredentials, setCredentials } from "../llm/credentials.ts";
import { defineFunction } from "./registry.ts";
import { AgentIdSchema, randomId } from "./common.ts";

const CredentialsView = z.object({
  configured: z.boolean(),
  base_url: z.string().nullable(),
  key_hint: z.string().nullable().describe("The key's last four characters (the key itself is never returned)"),
});

export const setLLMCredentials = defineFunction({
  name: "setLLMCredentials",
  summary: "Set (or remove) the app's language-model provider credentials",
  description:
    "api_key: the provider's key, stored AES-GCM-encrypted with the deployment's CREDENTIALS_KEY and never returned (null removes it); base_url: an OpenAI-compatible server " +
    "(e.g. http://localhost:11434/v1 for Ollama), default OpenAI's. The app's credentials come before the deployment's OPENAI_API_KEY.",
  input: z
    .object({
      api_key: z.string().trim().min(1, "api_key must not be empty").max(500).nullable(),
      base_url: z.url({ protocol: /^https?$/, error: "base_url must be an http(s) URL" }).max(500).nullable().optional(),
    })
    .strict(),
  output: CredentialsView,
  status: 200,
  async handler(ctx, input) {
    if (input.api_key === null) {
      await deleteCredentials(ctx.db, ctx.appId);
      return { configured: false, base_url: null, key_hint: null };
    }
    const stored = await setCredentials(ctx.db, ctx.env.CREDENTIALS_KEY, ctx.appId, input.api_key, input.base_url ?? null, ctx.now());
    return { configured: true, base_url: stored.base_url, key_hint: stored.key_hint };
  },
});

export const getLLMCredentials = defineFunction({
  name: "getLLMCredentials",
  summary: "Whether the app has language-model credentials (never the key)",
  description: "Answers whether the app set credentials, their base URL and the key's last four characters.",
  input: z.object({}).strict(),
  output: CredentialsView,
  status: 200,
  async handler(ctx) {
    const info = await credentialsInfo(ctx.db, ctx.appId);
    return info ? { configured: true, base_url: info.base_url, key_hint: info.key_hint } : { configured: false, base_url: null, key_hint: null };
  },
});

export const configureAnswerer = defineFunction({
  name: "configureAnswerer",
  summary: "A new version that answers with a language model (llm), or with its network and a language model (hybrid)",
  description:
    "Makes a version from the live one — the same network and memories — with the given answerer: local (the network), llm (the language model writes every answer no trusted rule " +
    "or correction gives; its prompt holds the instructions, the learned answers, the retrieved memories within memory_token_budget and similar demos) or hybrid (the network " +
    "when it is confident, the model otherwise). A candidate unless deploy is 'immediate'. Needs the app's credentials (setLLMCredentials) or the deployment's OPENAI_API_KEY.",
  input: z
    .object({
      agent_id: AgentIdSchema,
      answerer: AnswererSchema,
      deploy: z.enum(["candidate", "immediate"], { error: () => "deploy must be candidate or immediate" }).default("candidate"),
    })
    .strict(),
  output: z.object({
    version: z.number().int(),
    version_id: z.string(),
    live: z.boolean(),
    base_version: z.number().int().describe("The live version whose network and memories it has"),
    provider: z.enum(["app", "deployment"]).nullable().describe("Whose credentials its language model uses now"),
  }),
  status: 201,
  async handler(ctx, input) {
    return configure({ db: ctx.db, env: ctx.env, newId: randomId, now: ctx.now() }, ctx.appId, input.agent_id, input.answerer, input.deploy);
  },
});
