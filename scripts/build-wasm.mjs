// Assembles src/model/kernels.wat into src/model/kernels.wasm with wabt.
// `--check` only verifies that the committed binary matches the source
// (npm test runs it, so the two cannot drift apart).
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import wabtInit from "wabt";

const wat = fileURLToPath(new URL("../src/model/kernels.wat", import.meta.url));
const wasm = fileURLToPath(new URL("../src/model/kernels.wasm", import.meta.url));

const wabt = await wabtInit();
const module = wabt.parseWat(wat, readFileSync(wat, "utf8"), { simd: true });
module.validate();
const bytes = Buffer.from(module.toBinary({}).buffer);
module.destroy();

if (process.argv.includes("--check")) {
  if (!existsSync(wasm) || !readFileSync(wasm).equals(bytes)) {
    console.error("src/model/kernels.wasm is out of date with kernels.wat: run `node scripts/build-wasm.mjs`");
    process.exit(1);
  }
  console.log(`kernels.wasm matches kernels.wat (${bytes.length} bytes)`);
} else {
  writeFileSync(wasm, bytes);
  console.log(`wrote src/model/kernels.wasm (${bytes.length} bytes)`);
}
