/** The compiled kernels in Node (benchmarks): read and compiled from the file next to this one. */
import { readFileSync } from "node:fs";

// The project's types are workerd's, where compiling from bytes is not allowed (Module is abstract there).
const WasmModule = WebAssembly.Module as unknown as new (bytes: Uint8Array) => WebAssembly.Module;

export default new WasmModule(readFileSync(new URL("./kernels.wasm", import.meta.url)));
