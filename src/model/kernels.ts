/**
 * The network's numeric kernels (kernels.wat, WebAssembly SIMD). Which file
 * supplies the compiled module depends on the runtime: package.json maps
 * `#kernels-module` to a `.wasm` import under workerd and to a file read
 * under Node.
 */
import kernelsModule from "#kernels-module";

/** Every pointer is a byte offset into the memory the kernels were instantiated with. */
export interface Kernels {
  dense_add(W: number, x: number, out: number, nIn: number, nOut: number): void;
  add_outer(gW: number, x: number, dy: number, nIn: number, nOut: number): void;
  back_input(W: number, dy: number, act: number, dx: number, nIn: number, nOut: number, accumulate: number): void;
  bag(E: number, idx: number, val: number, n: number, out: number, dim: number): void;
  bag_grad(G: number, slot: number, val: number, n: number, de: number, dim: number): void;
  adam(p: number, g: number, m: number, v: number, n: number, b1: number, b2: number, step: number, c2: number, eps: number, decay: number): void;
  adagrad_rows(E: number, G: number, rows: number, acc: number, count: number, dim: number, lr: number, decay: number): void;
}

export function instantiateKernels(memory: WebAssembly.Memory): Kernels {
  return new WebAssembly.Instance(kernelsModule, { env: { memory } }).exports as unknown as Kernels;
}
