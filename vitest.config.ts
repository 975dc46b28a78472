import { existsSync, readFileSync } from "node:fs";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import Papa from "papaparse";
import { defineConfig } from "vitest/config";
import { fakeOpenAI } from "./test/fake-openai.ts";

const BANKING77 = "../shared/data/banking77";
/** CI runs beside ../shared: there a missing data set is a broken run, not a reason to skip. */
const CI = ["true", "1"].includes(process.env.CI ?? "");

/** A small seeded per-class sample of BANKING77 for the learning tests; "" when the data is absent (outside CI). */
function banking77Sample(perClassTrain: number, perClassTest: number): string {
  if (!existsSync(`${BANKING77}/train.csv`)) {
    if (CI) throw new Error(`[tests] CI=true but ${BANKING77} is absent: the BANKING77 tests cannot run (check out ../shared beside the repository)`);
    console.warn(`[tests] ${BANKING77} is absent: the BANKING77 learning test will be skipped`);
    return "";
  }
  const read = (file: string) =>
    Papa.parse<{ text: string; category: string }>(readFileSync(`${BANKING77}/${file}`, "utf8"), { header: true, skipEmptyLines: true }).data.map((r) => ({
      input: r.text,
      expected_output: r.category,
    }));
  const take = (rows: { input: string; expected_output: string }[], k: number) => {
    const seen = new Map<string, number>();
    return rows.filter((r) => {
      const n = seen.get(r.expected_output) ?? 0;
      seen.set(r.expected_output, n + 1);
      return n < k;
    });
  };
  return JSON.stringify({ train: take(read("train.csv"), perClassTrain), test: take(read("test.csv"), perClassTest) });
}

export default defineConfig({
  test: {
    projects: [
      {
        plugins: [
          cloudflareTest(async () => ({
            wrangler: { configPath: "./wrangler.toml" },
            remoteBindings: false,
            miniflare: {
              bindings: {
                TEST_MIGRATIONS: await readD1Migrations("./migrations"),
                API_KEY: "test-key",
                // The master key that wraps apps' data keys (encryption at rest; a test value).
                MASTER_KEY: "bWFzdGVyLWtleS1vZi10aGUtdGVzdHMtMzItYnl0ZXM=",
                // Erasures sweep at once (a deployment waits out steps in flight).
                ERASURE_SWEEP_DELAY_SECONDS: "0",
                // The deployment's admin secret (the admin API: apps, keys, the audit log).
                ADMIN_SECRET: "test-admin-secret",
                BANKING77_SAMPLE: banking77Sample(30, 10),
                // Exploration replays exactly: the learning-loop tests simulate users on top of it.
                EXPLORATION_SEED: "7",
                // The key apps' language-model credentials are encrypted with (a test value).
                CREDENTIALS_KEY: "dGVzdC1jcmVkZW50aWFscy1rZXktMzItYnl0ZXMhISE=",
              },
              // Every outbound request goes to a fake OpenAI-compatible server (test/fake-openai.ts): no network.
              outboundService: (request: Request) => fakeOpenAI(request),
            },
          })),
        ],
        test: {
          name: "workerd",
          include: ["test/**/*.test.ts"],
          exclude: ["test/node/**"],
          setupFiles: ["./test/setup.ts"],
          testTimeout: 60_000,
          // obscenity ships CommonJS behind an ESM wrapper: bundled for the test runner as wrangler's esbuild bundles it for the Worker.
          deps: { optimizer: { ssr: { enabled: true, include: ["obscenity", "synonyms/dictionary.js"] } } },
        },
      },
      {
        // Tests of what runs in Node: the scripts, and the benchmarks' measurements.
        test: { name: "node", include: ["test/node/**/*.test.ts"], environment: "node", testTimeout: 180_000 },
      },
    ],
  },
});
