/** Rollouts and experiments end to end: sticky routing, advance, automatic rollback, decisions, and the deployment history. */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import worker from "../../src/index.ts";
import { armOf, stickyUnit } from "../../src/deploy/routing.ts";
import { sequentialTest } from "../../src/deploy/sequential.ts";
import { metricSql } from "../../src/feedback/sql.ts";
import { satisfaction, success } from "../../src/model/adaptation.ts";
import { database } from "../../src/db/client.ts";
import type { SplitView } from "../../src/deploy/splits.ts";
import { Rng } from "../../src/model/rng.ts";
import { call, FAQ_TRAIN, SMALL, waitForRun } from "../helpers.ts";
import { sha256Hex } from "../../src/storage/hash.ts";

async function cron(): Promise<void> {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron: "*/5 * * * *" }), env, ctx);
  await waitOnExecutionContext(ctx);
}

interface Exec {
  execution_id: string;
  version: number;
  output: string;
}

/** Users u0…u{n-1} each ask once; feedback says correct when `rightFor(version)` says so. */
async function traffic(agent: string, users: number, offset: number, rightFor: (version: number, i: number) => boolean): Promise<Exec[]> {
  const out: Exec[] = [];
  for (let i = 0; i < users; i++) {
    const r = await call<Exec>("executeAgent", { agent_id: agent, input: FAQ_TRAIN[(offset + i) % FAQ_TRAIN.length].input, user_id: `u${offset + i}` });
    expect(r.status).toBe(200);
    out.push(r.body);
  }
  const fb = out.map((e, i) => ({ execution_id: e.execution_id, feedback: rightFor(e.version, i) ? "correct" : "incorrect" }));
  expect((await call("submitFeedback", fb)).status).toBe(200);
  return out;
}

async function trainVersions(agent: string): Promise<void> {
  for (const seed of [1, 2]) {
    const r = await call<{ run_id: string }>("trainAgent", { agent_id: agent, training_data: FAQ_TRAIN.slice(0, 60), config: { ...SMALL, epochs: 1, seed } });
    expect((await waitForRun(r.body.run_id)).status).toBe("succeeded");
  }
}

describe("routing", () => {
  it("is sticky per user, splits by the share, and a growing share keeps users on the new version", () => {
    const split = { id: "rol_000000000000000000000001", share: 0.25 };
    const users = Array.from({ length: 4000 }, (_, i) => `user-${i}`);
    const arms = users.map((u) => armOf(split, u));
    expect(users.map((u) => armOf(split, u))).toEqual(arms);
    const share = arms.filter((a) => a === "treatment").length / users.length;
    expect(share).toBeGreaterThan(0.22);
    expect(share).toBeLessThan(0.28);
    const grown = users.map((u) => armOf({ ...split, share: 0.5 }, u));
    expect(arms.every((a, i) => a === "control" || grown[i] === "treatment")).toBe(true);
    // Another split draws independently.
    const other = users.map((u) => stickyUnit("exp_000000000000000000000002", u) < 0.25);
    const both = other.filter((t, i) => t && arms[i] === "treatment").length / users.length;
    expect(both).toBeGreaterThan(0.04);
    expect(both).toBeLessThan(0.085);
  });
});

describe("the sequential test", () => {
  it("keeps false positives under alpha when looked at after every 50 samples, and decides a large difference", () => {
    const rng = new Rng(5, 1);
    let positives = 0;
    const runs = 200;
    for (let r = 0; r < runs; r++) {
      const c = { n: 0, sum: 0, sumSq: 0 };
      const t = { n: 0, sum: 0, sumSq: 0 };
      for (let k = 0; k < 40; k++) {
        for (let j = 0; j < 25; j++) {
          for (const arm of [c, t]) {
            const x = rng.next() < 0.8 ? 1 : 0;
            arm.n++;
            arm.sum += x;
            arm.sumSq += x;
          }
        }
        if (sequentialTest(c, t, 0.05, 0.05).p_value <= 0.05) {
          positives++;
          break;
        }
      }
    }
    expect(positives / runs).toBeLessThanOrEqual(0.05);
    const decided = sequentialTest({ n: 500, sum: 350, sumSq: 350 }, { n: 500, sum: 450, sumSq: 450 }, 0.05, 0.05);
    expect(decided.p_value).toBeLessThan(0.001);
    expect(decided.interval.lower).toBeGreaterThan(0);
  });
});

describe("metric SQL", () => {
  it("agrees with the TypeScript definitions of success and satisfaction on every kind of feedback", async () => {
    const db = database(env.DB);
    const labels = [null, "correct", "incorrect", "helpful", "unhelpful"] as const;
    for (const label of labels)
      for (const correctOutput of [null, "yes", " yes\n", "no"])
        for (const reward of [null, 0.25])
          for (const userSatisfaction of [null, 0.7]) {
            const f = { label, correctOutput, reward, userSatisfaction };
            const [row] = await db.all<{ s: number | null; t: number | null }>(sql`
              SELECT ${metricSql("success")} AS s, ${metricSql("satisfaction")} AS t
              FROM (SELECT 'yes' AS output, 3.0 AS latency_ms) e,
                   (SELECT ${label} AS label, ${correctOutput} AS correct_output, ${reward} AS reward, ${userSatisfaction} AS user_satisfaction) f`);
            expect([row.s, row.t], JSON.stringify(f)).toEqual([success(f, "yes"), satisfaction(f, "yes")]);
          }
  });
});

describe("rollouts", () => {
  beforeAll(() => trainVersions("roll-bot"), 120_000);

  it("advances while the new version holds, promotes it at the end, and records the deployment", async () => {
    const started = await call<SplitView>("startRollout", { agent_id: "roll-bot", version: 2, steps: [0.3, 0.6, 1], gate: { metric: "success", min_samples: 15 } });
    expect(started.status).toBe(201);
    expect(started.body).toMatchObject({ status: "active", share: 0.3, step: 1, control_version: 1, treatment_version: 2 });
    // One user, one version, for the whole rollout.
    const first = await call<Exec>("executeAgent", { agent_id: "roll-bot", input: "hello", user_id: "sticky" });
    for (let i = 0; i < 5; i++) expect((await call<Exec>("executeAgent", { agent_id: "roll-bot", input: `hello ${i}`, user_id: "sticky" })).body.version).toBe(first.body.version);
    expect((await call("startRollout", { agent_id: "roll-bot", version: 2 })).status).toBe(409);

    await traffic("roll-bot", 120, 0, () => true);
    await cron();
    let view = await call<SplitView>("getRollout", { rollout_id: started.body.id });
    expect(view.body).toMatchObject({ status: "active", share: 0.6, step: 2 });
    await traffic("roll-bot", 60, 200, () => true);
    await cron();
    view = await call<SplitView>("getRollout", { rollout_id: started.body.id });
    expect(view.body.status).toBe("completed");
    expect(view.body.look!.decision).toBe("promoted");
    const versions = await call<{ live_version: number; deployments: { to_version: number; action: string; actor: string }[] }>("listVersions", { agent_id: "roll-bot" });
    expect(versions.body.live_version).toBe(2);
    expect(versions.body.deployments[0]).toMatchObject({ to_version: 2, action: "rollout", actor: "cron" });
  });

  it("rolls back at once when the new version is significantly worse", async () => {
    // Version 1 is a candidate again: roll it out, and the users dislike it.
    const started = await call<SplitView>("startRollout", { agent_id: "roll-bot", version: 1, steps: [0.5, 1], gate: { min_samples: 500 } });
    expect(started.status).toBe(201);
    await traffic("roll-bot", 160, 400, (version) => version === 2);
    await cron();
    const view = await call<SplitView>("getRollout", { rollout_id: started.body.id });
    expect(view.body.status).toBe("rolled_back");
    expect(view.body.look!.interval.upper).toBeLessThan(0);
    for (let i = 0; i < 10; i++) expect((await call<Exec>("executeAgent", { agent_id: "roll-bot", input: "hi", user_id: `u${400 + i}` })).body.version).toBe(2);
    // And a rollback by hand returns to the version live before: version 1.
    const back = await call<{ live_version: number; previous_version: number }>("rollbackAgent", { agent_id: "roll-bot", reason: "test" });
    expect(back.body).toMatchObject({ live_version: 1, previous_version: 2 });
  });

  it("lists the agent's rollouts newest first with their arms and decisions", async () => {
    const list = await call<{ splits: SplitView[] }>("listTrafficSplits", { agent_id: "roll-bot" });
    expect(list.status).toBe(200);
    expect(list.body.splits.map((s) => [s.kind, s.treatment_version, s.status, s.look?.decision])).toEqual([
      ["rollout", 1, "rolled_back", "rolled_back"],
      ["rollout", 2, "completed", "promoted"],
    ]);
    expect(list.body.splits[0].look!.treatment.n).toBeGreaterThan(0);
    expect((await call<{ splits: SplitView[] }>("listTrafficSplits", { agent_id: "roll-bot", kind: "experiment" })).body.splits).toEqual([]);
    expect((await call<{ splits: SplitView[] }>("listTrafficSplits", { agent_id: "roll-bot", limit: 1 })).body.splits).toHaveLength(1);
    const bad = await call<{ error: { issues: { path: string }[] } }>("listTrafficSplits", { agent_id: "roll-bot", kind: "canary" });
    expect(bad.status).toBe(400);
    expect(bad.body.error.issues[0].path).toBe("kind");
    expect((await call("listTrafficSplits", { agent_id: "nobody" })).status).toBe(404);
  });
});

describe("experiments", () => {
  beforeAll(() => trainVersions("ab-bot"), 120_000);

  it("decides when the treatment is better and promotes it; looking does not change the decision", async () => {
    const started = await call<SplitView>("startExperiment", { agent_id: "ab-bot", treatment: 2, metric: "success", traffic: 0.5, on_decision: "promote" });
    expect(started.status).toBe(201);
    await traffic("ab-bot", 80, 0, (version, i) => version === 2 || i % 2 === 0);
    for (let i = 0; i < 3; i++) expect((await call<SplitView>("getExperiment", { experiment_id: started.body.id })).body.status).toBe("active");
    await traffic("ab-bot", 120, 80, (version, i) => version === 2 || i % 2 === 0);
    await cron();
    const view = await call<SplitView>("getExperiment", { experiment_id: started.body.id });
    expect(view.body.status).toBe("completed");
    expect(view.body.look!.decision).toBe("treatment_better");
    expect(view.body.look!.treatment.mean).toBe(1);
    expect(view.body.look!.p_value).toBeLessThanOrEqual(0.05);
    expect((await call<{ live_version: number }>("listVersions", { agent_id: "ab-bot" })).body.live_version).toBe(2);
  });

  it("refuses bad requests clearly and foreign ids with 404", async () => {
    expect((await call("startExperiment", { agent_id: "ab-bot", treatment: 2 })).status).toBe(400); // already live
    expect((await call("startExperiment", { agent_id: "ab-bot", treatment: 1, traffic: 1.5 })).status).toBe(400);
    expect((await call("startExperiment", { agent_id: "ab-bot", treatment: 9 })).status).toBe(404);
    expect((await call("startExperiment", { agent_id: "ab-bot", treatment: 1, control: 1 })).status).toBe(409);
    expect((await call("startRollout", { agent_id: "ab-bot", version: 1, steps: [0.5, 0.2] })).status).toBe(400);
    expect((await call("getExperiment", { experiment_id: "exp_ffffffffffffffffffffffff" })).status).toBe(404);
    // Another app sees none of it.
    await env.DB.prepare("INSERT INTO api_keys (key_hash, app_id) VALUES (?, 'deploy-other')").bind(await sha256Hex(new TextEncoder().encode("deploy-other-key"))).run();
    const [mine] = (await env.DB.prepare("SELECT id FROM traffic_splits WHERE agent_id = 'ab-bot'").all<{ id: string }>()).results;
    expect((await call("getExperiment", { experiment_id: mine.id }, "deploy-other-key")).status).toBe(404);
    expect((await call("stopTrafficSplit", { id: mine.id }, "deploy-other-key")).status).toBe(404);
    const theirs = await call<{ agents: { agent_id: string }[] }>("listAgents", {}, "deploy-other-key");
    expect(theirs.status).toBe(200);
    expect(theirs.body.agents).toEqual([]);
    for (const [fn, body] of [
      ["listTrafficSplits", { agent_id: "ab-bot" }],
      ["listVersions", { agent_id: "ab-bot" }],
      ["getVersion", { agent_id: "ab-bot", version: 1 }],
      ["promoteVersion", { agent_id: "ab-bot", version: 1 }],
      ["rollbackAgent", { agent_id: "ab-bot" }],
      ["startRollout", { agent_id: "ab-bot", version: 1 }],
      ["startExperiment", { agent_id: "ab-bot", treatment: 1 }],
    ] as const)
      expect((await call(fn, body, "deploy-other-key")).status, fn).toBe(404);
  });
});

describe("listAgents", () => {
  it("lists the app's agents in id order with their live version, candidates and active split, page by page", async () => {
    const started = await call<SplitView>("startExperiment", { agent_id: "ab-bot", treatment: 1, metric: "success", traffic: 0.2, on_decision: "none" });
    expect(started.status).toBe(201);
    type Summary = { agent_id: string; live_version: number | null; latest_version: number | null; versions: number; candidates: number; traffic_split: { id: string; kind: string; treatment_version: number; share: number } | null };
    const all = await call<{ agents: Summary[]; next_after: string | null }>("listAgents", {});
    expect(all.status).toBe(200);
    expect(all.body.next_after).toBeNull();
    const ids = all.body.agents.map((a) => a.agent_id);
    expect(ids).toEqual([...ids].sort());
    expect(all.body.agents.find((a) => a.agent_id === "ab-bot")).toMatchObject({ live_version: 2, latest_version: 2, versions: 2, candidates: 1, traffic_split: { id: started.body.id, kind: "experiment", treatment_version: 1, share: 0.2 } });
    expect(all.body.agents.find((a) => a.agent_id === "roll-bot")).toMatchObject({ live_version: 1, versions: 2, candidates: 1, traffic_split: null });
    // Page by page: the same agents, each once.
    const paged: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await call<{ agents: Summary[]; next_after: string | null }>("listAgents", { limit: 1, ...(after && { after }) });
      paged.push(...page.body.agents.map((a) => a.agent_id));
      if (!page.body.next_after) break;
      after = page.body.next_after;
    }
    expect(paged).toEqual(ids);
    expect((await call("listAgents", { limit: 0 })).status).toBe(400);
    const stopped = await call("stopTrafficSplit", { id: started.body.id });
    expect(stopped.status, JSON.stringify(stopped.body)).toBe(200);
  });
});
