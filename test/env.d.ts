import type { D1Migration } from "cloudflare:test";
import type { Env as WorkerEnv } from "../src/env.ts";

declare global {
  namespace Cloudflare {
    interface Env extends WorkerEnv {
      TEST_MIGRATIONS: D1Migration[];
      API_KEY: string;
      ADMIN_SECRET: string;
      BANKING77_SAMPLE: string;
    }
    interface GlobalProps {
      mainModule: typeof import("../src/index.ts");
    }
  }
}
