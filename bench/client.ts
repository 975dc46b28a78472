/** Calling a local Worker from a benchmark: POST with the API key (an error names the path and the answer), and waiting for a run to end. */
import type { RunView } from "../src/training/view.ts";

export function workerClient(url: string, key: string) {
  const auth = { authorization: `Bearer ${key}` };
  const post = async <T = Record<string, unknown>>(path: string, body: unknown): Promise<T> => {
    const res = await fetch(`${url}${path}`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify(body) });
    const text = await res.text();
    if (!res.ok) throw new Error(`${path} answered ${res.status}: ${text}`);
    return JSON.parse(text) as T;
  };
  const runOf = async (id: string) => (await (await fetch(`${url}/runs/${id}`, { headers: auth })).json()) as RunView;
  const waitForRun = async (id: string): Promise<RunView> => {
    for (;;) {
      const run = await runOf(id);
      if (["succeeded", "failed", "cancelled"].includes(run.status)) return run;
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  return { auth, post, runOf, waitForRun };
}
