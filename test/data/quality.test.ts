/** The data quality report: each code, the score, and the quality gate of trainAgent. */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { analyzeExamples, type Example } from "../../src/data/examples.ts";
import { qualityReportWork, type QualityReport } from "../../src/data/quality/report.ts";
import { binomialTail } from "../../src/data/quality/bias.ts";
import { nearDuplicatePairs } from "../../src/data/quality/near-duplicates.ts";
import { finish } from "../../src/model/work.ts";
import { call, countRows, FAQ_TRAIN, request } from "../helpers.ts";

function report(examples: readonly Example[]): QualityReport {
  const a = analyzeExamples(examples, String);
  return finish(qualityReportWork(a.kept, a.report));
}

const upload = (body: string, format = "jsonl") => request<{ error: { issues: { path: string; message: string; code?: string }[] } }>("POST", `/datasets?format=${format}`, body, env.API_KEY, { "content-type": "text/plain" });

describe("data quality report", () => {
  it("refuses rows with a missing field, an empty input or a too long text, naming the line and the code", async () => {
    const lines = [JSON.stringify({ input: "hello", expected_output: "greet" }), JSON.stringify({ expected_output: "greet" }), JSON.stringify({ input: "   ", expected_output: "greet" }), JSON.stringify({ input: "x".repeat(5000), expected_output: "greet" })];
    const r = await upload(lines.join("\n"));
    expect(r.status).toBe(400);
    const byPath = Object.fromEntries(r.body.error.issues.map((i) => [i.path, i.code]));
    expect(byPath).toMatchObject({ "lines.2.input": "missing_field", "lines.3.input": "empty_input", "lines.4.input": "too_long" });
  });

  it("finds duplicates, near-duplicates, conflicting labels, small and imbalanced classes, PII, inappropriate content", () => {
    const crafted: Example[] = [
      { input: FAQ_TRAIN[3].input.toUpperCase(), expected_output: FAQ_TRAIN[3].expected_output }, // a duplicate (case aside)
      { input: "where is my parcel right now please", expected_output: "shipping" },
      { input: "where is my parcel right now, please!", expected_output: "shipping" }, // punctuation aside the same: a near-duplicate
      { input: "where is my parcel right now pleas", expected_output: "shipping" }, // a near-duplicate
      { input: "track order", expected_output: "shipping" },
      { input: "track order", expected_output: "billing" }, // conflicting label
      { input: "email me at jane.doe@example.com", expected_output: "contact" },
      { input: "this is fucking broken", expected_output: "complaint" },
    ];
    const rows = [...FAQ_TRAIN, ...crafted];
    const r = report(rows);
    expect(r.counts.duplicate).toBe(1);
    // Indexes are into the rows kept (the duplicate removed): the crafted ones follow FAQ_TRAIN's.
    const at = (k: number) => FAQ_TRAIN.length + k - 1;
    const near = r.findings.filter((f) => f.code === "near_duplicate").map((f) => f.index);
    expect(near).toEqual(expect.arrayContaining([at(2), at(3)]));
    expect(r.counts.conflicting_labels).toBe(1);
    expect(r.findings.filter((f) => f.code === "class_too_small").map((f) => f.class).sort()).toEqual(["billing", "complaint", "contact"]);
    expect(r.counts.class_imbalance).toBe(0); // 10 to 1: not above the ratio of 10
    expect(r.findings.filter((f) => f.code === "pii_detected").map((f) => f.index)).toContain(at(6));
    expect(r.findings.filter((f) => f.code === "inappropriate_content").map((f) => f.index)).toEqual([at(7)]);
    // The report never repeats a detected value.
    expect(JSON.stringify(r)).not.toContain("jane.doe@example.com");
    expect(r.score).toBeLessThan(report(FAQ_TRAIN).score);
    for (const c of r.components) expect(c.score).toBeGreaterThanOrEqual(0);
    // Imbalance: one class eleven times the size of another.
    const skewed = report([...Array.from({ length: 44 }, (_, i) => ({ input: `alpha question ${"abcdefghijklmnopqrstuvwxyz"[i % 26]}${i} about plans`, expected_output: "big" })), ...Array.from({ length: 4 }, (_, i) => ({ input: `beta ${i} issue with login`, expected_output: "small" }))]);
    expect(skewed.counts.class_imbalance).toBe(1);
    expect(skewed.findings.find((f) => f.code === "class_imbalance")!.detail).toContain("11.0×");
  });

  it("bounds the near-duplicate pairs a set of near-identical rows would make", () => {
    const rows = Array.from({ length: 60 }, (_, i) => `please help me reset the password of my account number ${i}`);
    const all = nearDuplicatePairs(rows);
    expect(all.length).toBeGreaterThan(100);
    expect(all.truncated).toBeUndefined();
    const capped = nearDuplicatePairs(rows, 25);
    expect(capped).toHaveLength(25);
    expect(capped.truncated).toBe(true);
  });

  it("flags flipped labels by confident learning, and scores the clean set higher", () => {
    const classes = [...new Set(FAQ_TRAIN.map((e) => e.expected_output))];
    // One label in ten flipped to another class at random (seeded).
    let state = 7;
    const random = () => (state = (state * 1103515245 + 12345) >>> 0) / 4294967296;
    const flipped = new Set<number>();
    const noisy = FAQ_TRAIN.map((e, i) => {
      if (random() >= 0.1) return e;
      flipped.add(i);
      const others = classes.filter((c) => c !== e.expected_output);
      return { ...e, expected_output: others[Math.floor(random() * others.length)] };
    });
    const r = report(noisy);
    expect(r.likely_mislabeled.checked).toBe(true);
    const found = r.likely_mislabeled.suspects.map((s) => s.index);
    const hits = found.filter((i) => flipped.has(i)).length;
    // Ten examples per class is little to cross-validate on (BANKING77's 130 per class: precision 0.82, recall 0.79; bench:data).
    expect(hits / flipped.size).toBeGreaterThanOrEqual(0.5);
    expect(hits / Math.max(1, found.length)).toBeGreaterThanOrEqual(0.4);
    // The suggested label is the true one for most hits.
    const right = r.likely_mislabeled.suspects.filter((s) => flipped.has(s.index) && s.suggested === FAQ_TRAIN[s.index].expected_output).length;
    expect(right / Math.max(1, hits)).toBeGreaterThanOrEqual(0.7);
    // A large set is checked on a sample (here, as if the cap were 150): the suspects come from the sample, and the note says so.
    const a = analyzeExamples(noisy, String);
    const sampled = finish(qualityReportWork(a.kept, a.report, 1, 150));
    expect(sampled.likely_mislabeled.note).toMatch(/among a sample of \d+ of the 240 examples/);
    expect(sampled.likely_mislabeled.suspects.every((s) => s.given === noisy[s.index].expected_output)).toBe(true);
    const clean = report(FAQ_TRAIN);
    expect(clean.counts.likely_mislabeled).toBeLessThan(r.counts.likely_mislabeled);
    expect(clean.score).toBeGreaterThan(r.score);
  });

  it("reports identity terms skewed toward a class, with a significance test", () => {
    const rows: Example[] = [];
    for (let i = 0; i < 30; i++) rows.push({ input: `my wife wants to open account ${i}`, expected_output: "joint_account" });
    for (let i = 0; i < 200; i++) rows.push({ input: `card payment question ${i}`, expected_output: i % 2 ? "card" : "payments" });
    for (let i = 0; i < 3; i++) rows.push({ input: `my wife has a card question ${i}`, expected_output: "card" });
    const r = report(rows);
    const f = r.bias.find((b) => b.term === "wife")!;
    expect(f).toMatchObject({ group: "gender", class: "joint_account", count: 30 });
    expect(f.pmi).toBeGreaterThan(1);
    expect(f.p_value).toBeLessThan(0.01);
    expect(r.counts.bias_suspected).toBe(1);
    // The binomial tail is right where it can be checked by hand.
    expect(binomialTail(2, 2, 0.5)).toBeCloseTo(0.25, 10);
    expect(binomialTail(1, 3, 0.5)).toBeCloseTo(0.875, 10);
  });

  it("the gate refuses to train on data below min_score or with a rejected code: 422 with the report, nothing written", async () => {
    const before = { runs: await countRows("training_runs"), datasets: await countRows("datasets"), agents: await countRows("agents") };
    const data = [...FAQ_TRAIN.slice(0, 60), { input: "reach me on +1 415 555 2671", expected_output: FAQ_TRAIN[0].expected_output }];
    const refused = await call<{ error: { code: string; message: string; quality_report: QualityReport } }>("trainAgent", { agent_id: "gate-bot", training_data: data, config: { quality_gate: { reject_codes: ["pii_detected"] } } });
    expect(refused.status).toBe(422);
    expect(refused.body.error.code).toBe("quality_gate");
    expect(refused.body.error.message).toContain("pii_detected");
    expect(refused.body.error.quality_report.counts.pii_detected).toBe(1);
    const strict = await call<{ error: { code: string; message: string } }>("trainAgent", { agent_id: "gate-bot", training_data: FAQ_TRAIN, config: { quality_gate: { min_score: 99.99 } } });
    expect(strict.status).toBe(422);
    expect(strict.body.error.message).toMatch(/below config\.quality_gate\.min_score 99\.99/);
    expect({ runs: await countRows("training_runs"), datasets: await countRows("datasets"), agents: await countRows("agents") }).toEqual(before);
    const bad = await call<{ error: { issues: { path: string; message: string }[] } }>("trainAgent", { agent_id: "gate-bot", training_data: FAQ_TRAIN, config: { quality_gate: { reject_codes: ["typos"] } } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.issues[0].path).toBe("config.quality_gate.reject_codes.0");
    // The default gate lets clean data through; an uploaded dataset carries its report and score.
    const up = await request<{ dataset_id: string; quality_score: number; quality_report: QualityReport }>("POST", "/datasets?format=jsonl", FAQ_TRAIN.map((e) => JSON.stringify(e)).join("\n"), env.API_KEY, { "content-type": "text/plain" });
    expect(up.status).toBeLessThan(300);
    expect(up.body.quality_score).toBeGreaterThan(90);
    const stored = await request<QualityReport & { dataset_id: string }>("GET", `/datasets/${up.body.dataset_id}/quality`);
    expect(stored.body.score).toBe(up.body.quality_score);
    const trained = await call<{ quality: { score: number } }>("trainAgent", { agent_id: "gate-bot", dataset_id: up.body.dataset_id, config: { epochs: 1, dim: 16, hidden: 16 } });
    expect(trained.status).toBe(202);
    expect(trained.body.quality.score).toBe(up.body.quality_score);
  });
});
