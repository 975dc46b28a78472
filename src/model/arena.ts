/**
 * One WebAssembly memory holding a network's tensors, so that the kernels
 * work on them in place. Sized exactly once: `allocate` runs a layout
 * function twice, first to measure it, then to carve the views out of a
 * memory of that size (a memory that grew would detach every view).
 */
import { instantiateKernels, type Kernels } from "./kernels.ts";

const ALIGN = 16;
const PAGE = 65536;
/** Offset of the first allocation: 0 stays free to mean "no pointer". */
const START = ALIGN;

export interface Allocator {
  f32(n: number): Float32Array;
  i32(n: number): Int32Array;
}

class Sizer implements Allocator {
  bytes = START;
  f32(n: number): Float32Array {
    this.bytes += aligned(n * 4);
    return new Float32Array(0);
  }
  i32(n: number): Int32Array {
    this.bytes += aligned(n * 4);
    return new Int32Array(0);
  }
}

class Carver implements Allocator {
  private next = START;
  private readonly buffer: ArrayBuffer;
  constructor(buffer: ArrayBuffer) {
    this.buffer = buffer;
  }
  f32(n: number): Float32Array {
    return new Float32Array(this.buffer, this.take(n * 4), n);
  }
  i32(n: number): Int32Array {
    return new Int32Array(this.buffer, this.take(n * 4), n);
  }
  private take(bytes: number): number {
    const at = this.next;
    this.next += aligned(bytes);
    return at;
  }
}

function aligned(bytes: number): number {
  return Math.ceil(bytes / ALIGN) * ALIGN;
}

/** Bytes of the memory `allocate` would make for `layout` (whole pages), without allocating it. */
export function measure(layout: (a: Allocator) => unknown): number {
  const sizer = new Sizer();
  layout(sizer);
  return Math.ceil(sizer.bytes / PAGE) * PAGE;
}

/** Lays out `layout`'s buffers in a fresh memory and instantiates the kernels on it. */
export function allocate<T>(layout: (a: Allocator) => T): { kernels: Kernels; buffers: T; bytes: number } {
  const sizer = new Sizer();
  layout(sizer);
  const pages = Math.ceil(sizer.bytes / PAGE);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  return { kernels: instantiateKernels(memory), buffers: layout(new Carver(memory.buffer)), bytes: pages * PAGE };
}
