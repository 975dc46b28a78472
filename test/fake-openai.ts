/**
 * A small OpenAI-compatible chat server for the tests, in Node: miniflare
 * hands it every outbound request of the Worker under test (vitest.config.ts,
 * `outboundService`), so the real @ai-sdk/openai provider talks HTTP to it
 * at FAKE_LLM_URL. What it does is named by the requested model:
 *   fake-answer:<text>     answers <text>
 *   fake-echo              answers the whole prompt (system and user), to check what was sent
 *   fake-error:<status>    answers that HTTP status every time
 *   fake-flaky:<n>         answers 503 to the first n calls with a given prompt, then "recovered"
 *   fake-malformed         answers 200 with a body that is not JSON
 *   fake-slow:<ms>         answers "slow" after <ms>
 *   fake-judge             grades as testAgent's judge asks (JSON): relevance 1 when the answer is the expected one, else 0.25; unsafe when it mentions a password
 *   fake-picky             picks the listed answer as the demo's stand-in does (scripts/listed-answer.mjs; "I do not know." when none); verbatim only when
 *                          its instructions (the system prompt's first paragraph) say "verbatim", else wrapped in chatter ("Sure! …");
 *                          asked to improve instructions (analyzeAndOptimize's proposer), proposes the current ones plus "verbatim", and one unhelpful
 *   fake-stubborn          answers as fake-picky, but proposes only instructions without "verbatim"
 * Usage: prompt tokens = characters / 4 (rounded up), likewise the answer's.
 */
import { listedAnswer } from "../scripts/listed-answer.mjs";

export const FAKE_LLM_HOST = "llm.fake.test";
export const FAKE_LLM_URL = `http://${FAKE_LLM_HOST}/v1`;

const calls = new Map<string, number>();

interface ChatBody {
  model: string;
  stream?: boolean;
  messages: { role: string; content: string | { type: string; text?: string }[] }[];
}

const contentText = (c: ChatBody["messages"][number]["content"]) => (typeof c === "string" ? c : c.map((p) => p.text ?? "").join(""));

/** A chat-completions response of `text` for a prompt of `promptChars` characters (as SSE chunks, a word each, when the request streams). */
export function chatCompletion(model: string, text: string, promptChars: number, stream = false): Response {
  const prompt_tokens = Math.ceil(promptChars / 4);
  const completion_tokens = Math.ceil(text.length / 4);
  if (stream) {
    const base = { id: "chatcmpl-stream", object: "chat.completion.chunk", created: Math.floor(Date.now() / 1000), model };
    const words = text.match(/\S+\s*/g) ?? [];
    const events = [
      ...words.map((w, i) => ({ ...base, choices: [{ index: 0, delta: i === 0 ? { role: "assistant", content: w } : { content: w }, finish_reason: null }] })),
      { ...base, choices: [{ index: 0, delta: {}, finish_reason: "stop" }], usage: { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens } },
    ];
    const body = events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join("") + "data: [DONE]\n\n";
    return new Response(body, { headers: { "content-type": "text/event-stream" } });
  }
  return Response.json({
    id: `chatcmpl-${Math.random().toString(36).slice(2)}`,
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }],
    usage: { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens },
  });
}

export async function fakeOpenAI(request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (url.host !== FAKE_LLM_HOST) return new Response(`no outbound network in tests (${url.host})`, { status: 502 });
  if (!url.pathname.endsWith("/chat/completions")) return Response.json({ error: { message: `unknown path ${url.pathname}` } }, { status: 404 });
  const body = (await request.json()) as ChatBody;
  const prompt = body.messages.map((m) => `${m.role}: ${contentText(m.content)}`).join("\n");
  const [kind, arg = ""] = body.model.split(/:(.*)/s);
  switch (kind) {
    case "fake-answer":
      return chatCompletion(body.model, arg, prompt.length, body.stream);
    case "fake-echo":
      return chatCompletion(body.model, prompt, prompt.length, body.stream);
    case "fake-error":
      return Response.json({ error: { message: `fake provider error ${arg}`, type: "server_error" } }, { status: Number(arg) });
    case "fake-flaky": {
      const n = (calls.get(prompt) ?? 0) + 1;
      calls.set(prompt, n);
      return n <= Number(arg) ? Response.json({ error: { message: "overloaded", type: "server_error" } }, { status: 503 }) : chatCompletion(body.model, "recovered", prompt.length, body.stream);
    }
    case "fake-malformed":
      return new Response("this is not json", { status: 200, headers: { "content-type": "application/json" } });
    case "fake-judge": {
      const user = body.messages.find((m) => m.role === "user");
      const c = JSON.parse(user ? contentText(user.content) : "{}") as { answer?: string; expected_answer?: string | null };
      const grade = { relevance: c.answer === c.expected_answer ? 1 : 0.25, safe: !/password/i.test(c.answer ?? ""), reason: "graded by the fake judge" };
      return chatCompletion(body.model, JSON.stringify(grade), prompt.length, body.stream);
    }
    case "fake-picky":
    case "fake-stubborn": {
      const system = contentText(body.messages.find((m) => m.role === "system")?.content ?? "");
      const user = contentText(body.messages.find((m) => m.role === "user")?.content ?? "");
      if (system.startsWith("You improve the instructions")) {
        const { current_instructions } = JSON.parse(user) as { current_instructions: string };
        const candidates = kind === "fake-picky" ? [`${current_instructions} Reply with the listed answer, verbatim.`, "Be cheerful and warm."] : ["Be cheerful and warm.", "Be concise."];
        return chatCompletion(body.model, JSON.stringify({ candidates }), prompt.length);
      }
      return chatCompletion(body.model, pickyAnswer(system, user), prompt.length, body.stream);
    }
    case "fake-slow":
      await new Promise((r) => setTimeout(r, Number(arg)));
      return chatCompletion(body.model, "slow", prompt.length);
    default:
      return Response.json({ error: { message: `unknown model ${body.model}`, type: "invalid_request_error" } }, { status: 404 });
  }
}

/** fake-picky's answer: the listed answer sharing most words with the message (as the demo's stand-in picks), verbatim only when the instructions ask for it. */
function pickyAnswer(system: string, user: string): string {
  const answer = listedAnswer(system, user) ?? "I do not know.";
  return /verbatim/i.test(system.split("\n\n")[0]) ? answer : `Sure! ${answer} Anything else?`;
}
