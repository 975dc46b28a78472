/**
 * The page at `/` in a real browser (headless Chromium, driven by
 * playwright-core) against the local Worker during a real training run: the
 * learning curve gains points as epochs finish, the run ends on the page, a
 * rollback from the page takes effect, and the agent's latest evaluation
 * (per-class table, confused pairs) and a memory search show.
 * Screenshots go to test-results/. Skipped, with the reason, when Chromium is
 * absent — except under CI=true, where it must be there (.ci/run installs it).
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { chromium } from "playwright-core";
import { createClient } from "../../src/client/index.ts";
import { ensureLocalSecrets, startWorker } from "../../scripts/worker.mjs";

const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].find((p) => existsSync(p));
const ci = ["true", "1"].includes(process.env.CI ?? "");
const faq = JSON.parse(readFileSync("examples/support-faq.json", "utf8")) as { intents: { answer: string; train: string[]; heldout?: string[] }[] };
const train = faq.intents.flatMap((i) => i.train.map((input) => ({ input, expected_output: i.answer })));

describe("the dashboard in a browser", () => {
  it.skipIf(!CHROMIUM && !ci)("draws a run's learning curve as it trains, and rolls an agent back (skipped without Chromium: apt-get install chromium)", async () => {
    if (!CHROMIUM) throw new Error("CI=true but no Chromium: .ci/run installs Debian's chromium package");
    const { key } = ensureLocalSecrets() as { key: string };
    const worker = (await startWorker({ persistTo: `.wrangler/browser-test-${Date.now()}` })) as { url: string; stop: () => void };
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    try {
      const out = join("test-results", "dashboard");
      mkdirSync(out, { recursive: true });
      const client = createClient({ baseUrl: worker.url, apiKey: key });
      // Epochs committed one by one (small steps), slow enough for the page to see several states.
      const { run_id } = await client.functions.trainAgent({
        agent_id: "browser-bot",
        training_data: train,
        config: { epochs: 12, seed: 7, early_stopping: false, refit: false, ensemble: 3, examples_per_step: 300 },
      });
      const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
      const t0 = Date.now();
      const res = await page.goto(`${worker.url}/`);
      const html = (await res!.body()).length;
      const timing = await page.evaluate(async () => {
        await new Promise((r) => setTimeout(r, 50));
        const paint = performance.getEntriesByType("paint").find((e) => e.name === "first-contentful-paint")?.startTime ?? null;
        const nav = performance.getEntriesByType("navigation")[0] as (PerformanceEntry & { domContentLoadedEventEnd?: number }) | undefined;
        return { paint, domContentLoaded: nav?.domContentLoadedEventEnd ?? null };
      });
      console.log(
        `page weight ${html} bytes (one request: no scripts, styles or fonts fetched); first contentful paint ${timing.paint?.toFixed(0) ?? "not reported"} ms; ` +
          `DOMContentLoaded ${timing.domContentLoaded?.toFixed(0)} ms; loaded in ${Date.now() - t0} ms`,
      );
      await page.fill("#key", key);
      // The app's agents, listed once the key is in.
      await page.click("#list");
      await page.waitForSelector('button[data-agent="browser-bot"]');
      await page.fill("#run", run_id);
      await page.click("#go");
      const seen: number[] = [];
      for (let i = 0; i < 600; i++) {
        const points = Number((await page.getAttribute("#curves", "data-points")) ?? "0");
        if (seen.at(-1) !== points) {
          seen.push(points);
          if (seen.length === 3) await page.screenshot({ path: join(out, "training.png") });
        }
        if ((await page.textContent("#status"))?.startsWith("succeeded")) break;
        await page.waitForTimeout(100);
      }
      // The last state may have been drawn between this loop's two reads.
      const final = Number((await page.getAttribute("#curves", "data-points")) ?? "0");
      if (seen.at(-1) !== final) seen.push(final);
      await page.screenshot({ path: join(out, "done.png") });
      expect(await page.textContent("#status")).toMatch(/^succeeded/);
      // The curve gained points while the run trained: several states, growing to epoch 0 + 12 epochs.
      expect(seen.length).toBeGreaterThanOrEqual(3);
      expect(seen).toEqual([...seen].sort((a, b) => a - b));
      expect(seen.at(-1)).toBe(13);
      expect(await page.locator("#curves polyline").count()).toBe(3);
      expect(await page.locator("#epochs tbody tr").count()).toBe(13);
      // The run's plan and timing.
      expect(await page.textContent("#plan")).toMatch(/^Plan: \d+ training rows, \d+ validation rows, 12 epochs in \d+ queue steps, an ensemble of 3/);
      expect(await page.textContent("#timing")).toMatch(/^Timing: elapsed [\d.]+ s, \d+ steps committed, [\d.]+ s a step, the longest [\d.]+ s; started .+, finished /);
      // The key stays in the tab's session storage, never in local storage.
      expect(await page.evaluate(() => [sessionStorage.getItem("archon-key") !== null, localStorage.length])).toEqual([true, 0]);

      // A second version goes live; a rollback from the page makes version 1 live again, and executeAgent answers with it.
      const second = await client.functions.trainAgent({ agent_id: "browser-bot", training_data: train, deploy: "immediate", config: { epochs: 2, seed: 8, refit: false } });
      for await (const run of client.runs.watch(second.run_id)) if (run.status !== "running" && run.status !== "queued") expect(run.status).toBe("succeeded");
      expect((await client.functions.listVersions({ agent_id: "browser-bot" })).live_version).toBe(2);
      await page.fill("#agent", "browser-bot");
      await page.click("#show");
      await page.waitForSelector('button[data-rollback="1"]');
      await page.click('button[data-rollback="1"]');
      await page.waitForFunction('document.getElementById("agentStatus").textContent.includes("rolled back from version 2 to 1")');
      await page.screenshot({ path: join(out, "rollback.png") });
      expect(await page.getAttribute("#agentStatus", "data-live")).toBe("1");
      expect((await client.functions.listVersions({ agent_id: "browser-bot" })).live_version).toBe(1);
      expect((await client.functions.executeAgent({ agent_id: "browser-bot", input: "where is my parcel" })).version).toBe(1);
      // The deployment history names the rollback and its reason.
      expect(await page.textContent("#deployments")).toContain("rolled back from the dashboard");

      // The latest evaluation (per-class table, most confused pairs) and a memory search, on the page.
      const heldout = faq.intents.flatMap((i) => (i.heldout ?? []).map((input) => ({ input, expected: i.answer })));
      const evaluation = await client.functions.testAgent({ agent_id: "browser-bot", test_suite: heldout, evaluation_criteria: ["accuracy"] });
      expect(evaluation.status).toBe("succeeded");
      await page.click("#show");
      await page.waitForFunction('document.getElementById("evalStatus").textContent.includes("cases")');
      // The executions of the last day: the test's executeAgent calls, counted in their hour.
      const counted = async () => (await page.locator("#series tbody td:nth-child(2)").allTextContents()).reduce((n, t) => n + Number(t), 0);
      // Each section loads on its own: the series may arrive after the evaluation.
      await page.waitForFunction('[...document.querySelectorAll("#series tbody td:nth-child(2)")].some((td) => Number(td.textContent) > 0)');
      expect(await counted()).toBeGreaterThanOrEqual(1);
      expect(Number(await page.getAttribute("#seriesChart", "data-points"))).toBeGreaterThanOrEqual(1);
      expect(await page.locator("#perClass tbody tr").count()).toBe(faq.intents.length);
      expect(await page.locator("#confused tbody tr").count()).toBeGreaterThan(0);
      await page.fill("#memQuery", "I forgot my password");
      await page.click("#memGo");
      await page.waitForSelector("#memories tbody tr");
      expect(await page.locator("#memories tbody tr").count()).toBeGreaterThan(0);
      // The agent's runs, each one to watch: watching the second run from its row draws its 3 points (epoch 0 and 2 epochs).
      expect(await page.locator("#runs tbody tr").count()).toBe(2);
      await page.click(`button[data-watch="${second.run_id}"]`);
      await page.waitForFunction(`document.getElementById("run").value === "${second.run_id}" && document.getElementById("curves").dataset.points === "3" && document.getElementById("status").textContent.startsWith("succeeded")`);

      // An experiment (version 2 against the live 1) with feedback: its arms on the page, and the feedback as a series.
      const experiment = await client.functions.startExperiment({ agent_id: "browser-bot", treatment: 2, traffic: 0.5, on_decision: "none" });
      const asked = await Promise.all(heldout.slice(0, 20).map((c, i) => client.functions.executeAgent({ agent_id: "browser-bot", input: c.input, user_id: `user-${i}` })));
      await client.functions.submitFeedback(asked.map((e, i) => ({ execution_id: e.execution_id, feedback: e.output === heldout[i].expected ? ("correct" as const) : ("incorrect" as const) })));
      await page.selectOption("#seriesName", "accuracy");
      await page.click("#show");
      await page.waitForSelector(`#splits tr[data-split="${experiment.id}"]`);
      const row = await page.textContent(`#splits tr[data-split="${experiment.id}"]`);
      expect(row).toContain("experiment");
      expect(row).toContain("1 → 2");
      expect(row).toContain("active");
      await page.waitForFunction('document.getElementById("seriesStatus").textContent.startsWith("accuracy:")');
      expect(await counted()).toBe(20);
      await page.screenshot({ path: join(out, "agent.png"), fullPage: true });
      await client.functions.stopTrafficSplit({ id: experiment.id });
    } finally {
      await browser.close();
      worker.stop();
    }
  });
});
