import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { registerSealing } from "../src/storage/sealing.ts";

await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
// Domain code the tests call directly seals and opens objects as the Worker does.
registerSealing(env);
