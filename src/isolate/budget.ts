/**
 * How one Worker isolate's memory is shared (Cloudflare: 128 MB per isolate):
 *
 *   WORKER_MEMORY = RUNTIME_RESERVE + CACHE_BUDGET + STEP_BUDGET
 *
 * - RUNTIME_RESERVE: the runtime, the bundled code and kernels, requests in flight;
 * - CACHE_BUDGET: what the isolate keeps between invocations, all caches together
 *   (version weights, memory vectors, a run's prepared data: src/isolate/cache.ts);
 * - STEP_BUDGET: the peak one training step may reach (estimated before a run is
 *   accepted, by src/model/footprint.ts).
 * A step's prepared data may also sit in the cache; counting them in both keeps the sum safe.
 */
export const MIB = 2 ** 20;
export const WORKER_MEMORY_BYTES = 128 * MIB;
export const RUNTIME_RESERVE_BYTES = 16 * MIB;
export const CACHE_BUDGET_BYTES = 40 * MIB;
export const STEP_BUDGET_BYTES = WORKER_MEMORY_BYTES - RUNTIME_RESERVE_BYTES - CACHE_BUDGET_BYTES;
