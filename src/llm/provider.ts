/**
 * The language model an app's agents call: through @ai-sdk/openai, so OpenAI
 * or any OpenAI-compatible server (OPENAI_BASE_URL, or the app's base URL).
 * The app's own credentials (setLLMCredentials) come first, then the
 * deployment's OPENAI_API_KEY; with neither there is no model.
 */
import { createOpenAI } from "@ai-sdk/openai";
import type { LanguageModel } from "ai";
import type { Db } from "../db/client.ts";
import { readCredentials } from "./credentials.ts";

export interface LlmEnv {
  OPENAI_API_KEY?: string;
  OPENAI_BASE_URL?: string;
  CREDENTIALS_KEY?: string;
  LLM_MODEL?: string;
  LLM_PRICES?: string;
}

export interface Provider {
  apiKey: string;
  baseURL: string | undefined;
  source: "app" | "deployment";
}

/** The deployment's provider (OPENAI_API_KEY), or null. */
export function deploymentProvider(env: LlmEnv): Provider | null {
  return env.OPENAI_API_KEY ? { apiKey: env.OPENAI_API_KEY, baseURL: env.OPENAI_BASE_URL, source: "deployment" } : null;
}

/** The app's provider: its own credentials, else the deployment's; null when there is none. */
export async function providerFor(db: Db, env: LlmEnv, appId: string): Promise<Provider | null> {
  const own = await readCredentials(db, env.CREDENTIALS_KEY, appId);
  if (own) return { apiKey: own.apiKey, baseURL: own.baseUrl ?? undefined, source: "app" };
  return deploymentProvider(env);
}

export function chatModel(p: Provider, model: string): LanguageModel {
  return createOpenAI({ apiKey: p.apiKey, baseURL: p.baseURL }).chat(model);
}
