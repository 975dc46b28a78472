/** The compiled kernels in a Worker: wrangler and the test pool import .wasm files as WebAssembly.Module. */
import kernels from "./kernels.wasm";

export default kernels;
