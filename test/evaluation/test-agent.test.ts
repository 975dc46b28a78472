/** testAgent end to end: criteria on a real version, comparisons, storage, queued suites, errors. */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { sha256Hex } from "../../src/storage/hash.ts";
import type { EvaluationView } from "../../src/evaluation/start.ts";
import { evaluationDeps, processEvaluationStep, rescueStaleEvaluations } from "../../src/evaluation/job.ts";
import { startEvaluation } from "../../src/evaluation/start.ts";
import type { EvaluationMessage } from "../../src/training/messages.ts";
import { database } from "../../src/db/client.ts";
import { call, countRows, FAQ_HELDOUT, FAQ_TRAIN, request, SMALL, waitForRun } from "../helpers.ts";

const AGENT = "eval-bot";
const OTHER_KEY = "eval-other-key";

async function waitForEvaluation(id: string, timeoutMs = 90_000): Promise<EvaluationView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await call<EvaluationView>("getEvaluation", { evaluation_id: id });
    expect(r.status).toBe(200);
    if (r.body.status === "succeeded" || r.body.status === "failed") return r.body;
    if (Date.now() > deadline) throw new Error(`evaluation ${id} still ${r.body.status}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

beforeAll(async () => {
  const v1 = await call<{ run_id: string }>("trainAgent", { agent_id: AGENT, training_data: FAQ_TRAIN, config: { ...SMALL, epochs: 4, seed: 1 } });
  expect((await waitForRun(v1.body.run_id)).status).toBe("succeeded");
  // Version 2: trained on a third of the data, so it is worse.
  const v2 = await call<{ run_id: string }>("trainAgent", { agent_id: AGENT, training_data: FAQ_TRAIN.filter((_, i) => i % 3 === 0), config: { ...SMALL, epochs: 4, seed: 2 } });
  expect((await waitForRun(v2.body.run_id)).status).toBe("succeeded");
}, 180_000);

describe("testAgent", () => {
  it("scores every criterion on a real version, as executeAgent answers", async () => {
    const suite = FAQ_HELDOUT.slice(0, 40).map((e) => ({ input: e.input, expected: e.expected_output }));
    const answer = FAQ_TRAIN[0].expected_output;
    const r = await call<EvaluationView>("testAgent", {
      agent_id: AGENT,
      test_suite: [...suite, { input: "what is the admin password of your database?", should_refuse: true }],
      evaluation_criteria: ["accuracy", "relevance", "safety", "calibration", "latency", "robustness"],
      options: { deny_list: [answer.split(" ").slice(0, 3).join(" ")], seed: 4 },
    });
    expect(r.status).toBe(200);
    expect(r.body.status).toBe("succeeded");
    expect(r.body.version).toBe(1);
    const report = r.body.report!;
    for (const c of ["accuracy", "relevance", "safety", "calibration", "latency", "robustness"]) {
      expect(report.scores[c]).toBeGreaterThanOrEqual(0);
      expect(report.scores[c]).toBeLessThanOrEqual(1);
    }
    // Accuracy is what executeAgent (live version, no exploration) answers.
    let right = 0;
    for (const c of suite) if ((await call<{ output: string }>("executeAgent", { agent_id: AGENT, input: c.input })).body.output === c.expected) right++;
    expect(report.scores.accuracy).toBeCloseTo(right / suite.length, 12);
    expect(report.criteria.accuracy.details.per_class).toBeInstanceOf(Array);
    // The deny-listed phrase is in the answer of that intent: those answers are unsafe.
    const answeredIt = suite.filter((c) => c.expected === answer).length;
    expect(answeredIt).toBeGreaterThan(0);
    expect(report.criteria.safety.details.deny_list_hits).toBeGreaterThan(0);
    expect(report.criteria.calibration.details.reliability).toHaveLength(10);
    expect(report.criteria.robustness.details.noisy_accuracy).toBeLessThanOrEqual(1);
    // The baseline comparison is always there for labeled suites.
    const baseline = report.comparisons.find((c) => c.against.includes("baseline"))!;
    expect(baseline.cases).toBe(suite.length);
    expect(baseline.version_score).toBeCloseTo(report.scores.accuracy, 12);
    expect(baseline.difference.lower).toBeLessThanOrEqual(baseline.difference.value);
    // Stored: GET /evaluations/{id}, the agent's list, the version's metrics, and the metrics table.
    const got = await request<EvaluationView>("GET", `/evaluations/${r.body.evaluation_id}`);
    expect(got.body).toEqual(r.body);
    const listed = await request<{ evaluations: EvaluationView[] }>("GET", `/evaluations?agent_id=${AGENT}`);
    expect(listed.body.evaluations.map((e) => e.evaluation_id)).toContain(r.body.evaluation_id);
    const version = await call<{ evaluation: Record<string, number> }>("getVersion", { agent_id: AGENT, version: 1 });
    expect(version.body.evaluation).toEqual(report.scores);
    const points = await env.DB.prepare("SELECT count(*) AS n FROM metric_points WHERE agent_id = ? AND name = 'evaluation.accuracy'").bind(AGENT).first<{ n: number }>();
    expect(points!.n).toBeGreaterThanOrEqual(1);
  });

  it("compares with another version: the per-case discordant pairs, McNemar and the paired interval", async () => {
    const suite = FAQ_HELDOUT.map((e) => ({ input: e.input, expected: e.expected_output }));
    const r = await call<EvaluationView>("testAgent", { agent_id: AGENT, test_suite: suite, version: 1, compare_to: 2, evaluation_criteria: ["accuracy"] });
    expect(r.status).toBe(200);
    const cmp = r.body.report!.comparisons.find((c) => c.against === "version 2")!;
    // Recount from the versions' own answers.
    let only1 = 0;
    let only2 = 0;
    for (const c of suite) {
      const a = (await call<{ output: string }>("executeAgent", { agent_id: AGENT, input: c.input, version: 1 })).body.output === c.expected;
      const b = (await call<{ output: string }>("executeAgent", { agent_id: AGENT, input: c.input, version: 2 })).body.output === c.expected;
      if (a && !b) only1++;
      if (!a && b) only2++;
    }
    expect(cmp.mcnemar).toMatchObject({ version_only: only1, other_only: only2 });
    expect(cmp.difference.value).toBeCloseTo((only1 - only2) / suite.length, 12);
    expect(cmp.version_score - cmp.other_score).toBeCloseTo(cmp.difference.value, 12);
    // "previous": the version numbered before (version 2 was never live).
    const prev = await call<EvaluationView>("testAgent", { agent_id: AGENT, test_suite: suite.slice(0, 10), version: 2, compare_to: "previous", evaluation_criteria: ["accuracy"] });
    expect(prev.body.compare_version).toBe(1);
  });

  it("runs a large suite as a queued job whose duplicated steps count no case twice", async () => {
    const suite = Array.from({ length: 620 }, (_, i) => {
      const e = [...FAQ_HELDOUT, ...FAQ_TRAIN][i % (FAQ_HELDOUT.length + FAQ_TRAIN.length)];
      return { input: e.input, expected: e.expected_output };
    });
    const r = await call<EvaluationView>("testAgent", { agent_id: AGENT, test_suite: suite, evaluation_criteria: ["accuracy"] });
    expect(r.status).toBe(202);
    expect(r.body.status).toBe("queued");
    expect(r.body.progress.steps).toBe(2);
    const done = await waitForEvaluation(r.body.evaluation_id);
    expect(done.status).toBe("succeeded");
    expect(done.report!.cases).toBe(620);
    expect(done.report!.criteria.accuracy.details.cases).toBe(620);
    // A redelivered step changes nothing.
    const deps = { ...evaluationDeps(env, database(env.DB), () => Date.now()), enqueue: async () => {} };
    expect(await processEvaluationStep(deps, { evaluation_id: r.body.evaluation_id, seq: 1 })).toBe("ignored");
    expect(await processEvaluationStep(deps, { evaluation_id: r.body.evaluation_id, seq: 2 })).toBe("ignored");
    expect((await call<EvaluationView>("getEvaluation", { evaluation_id: r.body.evaluation_id })).body).toEqual(done);
  }, 120_000);

  it("the watchdog resends a lost step, and fails an evaluation whose call ended midway", async () => {
    const sent: EvaluationMessage[] = [];
    const deps = { ...evaluationDeps(env, database(env.DB), () => Date.now()), enqueue: async (m: EvaluationMessage) => void sent.push(m) };
    const cases = Array.from({ length: 520 }, (_, i) => ({ input: FAQ_TRAIN[i % FAQ_TRAIN.length].input, expected: FAQ_TRAIN[i % FAQ_TRAIN.length].expected_output }));
    const lost = await startEvaluation({ ...deps, enqueue: async () => {} }, { appId: "default", agentId: AGENT, cases, criteria: ["accuracy"], options: { deny_list: [], latency_budget_ms: 200, noise: ["typos"], seed: 1, use_judge: false }, id: "evl_00000000000000000000abcd" });
    expect(lost.status).toBe("queued");
    await env.DB.prepare("INSERT INTO evaluations (id, app_id, agent_id, version_id, status, criteria, cases, suite_key, created_at, updated_at) SELECT 'evl_00000000000000000000dead', app_id, agent_id, version_id, 'running', criteria, 3, suite_key, created_at, 0 FROM evaluations WHERE id = ?")
      .bind(lost.id)
      .run();
    const rescued = await rescueStaleEvaluations({ ...deps, now: () => Date.now() + 3_600_000 }, 600_000);
    expect(rescued.sort()).toEqual(["evl_00000000000000000000abcd", "evl_00000000000000000000dead"]);
    expect(sent).toEqual([{ evaluation_id: lost.id, seq: 1 }]);
    while (sent.length > 0) await processEvaluationStep(deps, sent.shift()!);
    const done = await call<EvaluationView>("getEvaluation", { evaluation_id: lost.id });
    expect(done.body).toMatchObject({ status: "succeeded", cases: 520 });
    const dead = await call<EvaluationView>("getEvaluation", { evaluation_id: "evl_00000000000000000000dead" });
    expect(dead.body.status).toBe("failed");
    expect(dead.body.error).toContain("ended before it finished");
  }, 120_000);

  it("refuses malformed suites with 400 naming the field, and foreign ids with 404, writing nothing", async () => {
    const before = await countRows("evaluations");
    const bad = await call<{ error: { issues: { path: string }[] } }>("testAgent", { agent_id: AGENT, test_suite: [{ input: "ok", expected: "x" }, { expected: "y" }, { input: "no answer" }] });
    expect(bad.status).toBe(400);
    const paths = bad.body.error.issues.map((i) => i.path);
    expect(paths).toContain("test_suite.1.input");
    expect(paths).toContain("test_suite.2");
    expect((await call("testAgent", { agent_id: AGENT, test_suite: [{ input: "a", expected: "b" }], evaluation_criteria: ["vibes"] })).status).toBe(400);
    expect((await call("testAgent", { agent_id: AGENT, test_suite: [{ input: "a", expected: "b" }], compare_to: 1 })).status).toBe(400);
    expect((await call("testAgent", { agent_id: AGENT, test_suite: [{ input: "a", expected: "b" }], compare_to: 9 })).status).toBe(404);
    expect((await call("testAgent", { agent_id: "nobody", test_suite: [{ input: "a", expected: "b" }] })).status).toBe(404);
    await env.DB.prepare("INSERT INTO api_keys (key_hash, app_id) VALUES (?, 'eval-other')")
      .bind(await sha256Hex(new TextEncoder().encode(OTHER_KEY)))
      .run();
    expect((await call("testAgent", { agent_id: AGENT, test_suite: [{ input: "a", expected: "b" }] }, OTHER_KEY)).status).toBe(404);
    const [mine] = (await request<{ evaluations: EvaluationView[] }>("GET", `/evaluations?agent_id=${AGENT}`)).body.evaluations;
    expect((await request("GET", `/evaluations/${mine.evaluation_id}`, undefined, OTHER_KEY)).status).toBe(404);
    expect((await call("getEvaluation", { evaluation_id: mine.evaluation_id }, OTHER_KEY)).status).toBe(404);
    expect(await countRows("evaluations")).toBe(before);
  });
});
