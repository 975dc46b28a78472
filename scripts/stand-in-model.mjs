// A stand-in language model for the offline demo: a small OpenAI-compatible chat server on 127.0.0.1.
// It answers with the agent's listed answer that shares the most words with the message (the prompt lists
// them: "Answers this agent gives"), else says what it can help with. Usage is counted at 4 characters a token.
// A real model replaces it by configuration alone: setLLMCredentials { api_key, base_url }.
import { createServer } from "node:http";

const COMMON = new Set(["what", "when", "where", "which", "with", "your", "have", "this", "that", "from", "there", "about", "would", "could", "does", "like", "want", "need", "know", "please", "help"]);
const words = (t) => new Set((t.toLowerCase().match(/[a-z0-9]+/g) ?? []).filter((w) => w.length > 3 && !COMMON.has(w)));

function reply(system, user) {
  const listed = (system.split("Answers this agent gives")[1] ?? "").split("\n").filter((l) => l.startsWith("- ")).map((l) => l.slice(2));
  // The message: the prompt's last "User: …" before its closing "Answer:".
  const message = words((user.split("User: ").at(-1) ?? user).split("\nAnswer:")[0]);
  let best = { answer: null, score: 0 };
  for (const line of listed) {
    const score = [...words(line)].filter((w) => message.has(w)).length;
    if (score > best.score) best = { answer: line.replace(/ \(e\.g\. .*\)$/, ""), score };
  }
  return best.answer ?? "Sorry, I can only help with your account, orders, deliveries and payments.";
}

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
