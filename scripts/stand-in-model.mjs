// A stand-in language model for the offline demo: a small OpenAI-compatible chat server on 127.0.0.1.
// It answers with the agent's listed answer that shares the most words with the message (the prompt lists
// them: "Answers this agent gives"), else says what it can help with. Usage is counted at 4 characters a token.
// A real model replaces it by configuration alone: setLLMCredentials { api_key, base_url }.
import { createServer } from "node:http";
import { listedAnswer } from "./listed-answer.mjs";

const reply = (system, user) => listedAnswer(system, user) ?? "Sorry, I can only help with your account, orders, deliveries and payments.";

export async function startStandInModel() {
  let calls = 0;
  const server = createServer(async (req, res) => {
    let body = "";
    for await (const chunk of req) body += chunk;
    const { model, messages } = JSON.parse(body);
    const text = (role) => messages.filter((m) => m.role === role).map((m) => (typeof m.content === "string" ? m.content : m.content.map((p) => p.text ?? "").join(""))).join("\n");
    const answer = reply(text("system"), text("user"));
    const promptChars = messages.reduce((n, m) => n + JSON.stringify(m.content).length, 0);
    calls++;
    const usage = { prompt_tokens: Math.ceil(promptChars / 4), completion_tokens: Math.ceil(answer.length / 4) };
    res.writeHead(200, { "content-type": "application/json" }).end(
      JSON.stringify({
        id: `chatcmpl-demo-${calls}`,
        object: "chat.completion",
        created: Math.floor(Date.now() / 1000),
        model,
        choices: [{ index: 0, message: { role: "assistant", content: answer }, finish_reason: "stop" }],
        usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
      }),
    );
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${server.address().port}/v1`, calls: () => calls, stop: () => server.close() };
}
