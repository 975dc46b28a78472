/**
 * One least-recently-used cache per isolate, bounded in bytes: every kind of
 * cached value (a space) shares CACHE_BUDGET_BYTES, and the least recently
 * used entry of any space goes first. An entry larger than its space's
 * `maxEntryBytes` is not kept (the caller reads it again next time).
 */
import { CACHE_BUDGET_BYTES } from "./budget.ts";

interface Slot {
  space: CacheSpace<unknown>;
  key: string;
  bytes: number;
}

class ByteLru {
  readonly budget: number;
  /** Least recently used first. */
  private readonly order = new Map<string, Slot>();
  private used = 0;

  constructor(budget: number) {
    this.budget = budget;
  }

  get bytes(): number {
    return this.used;
  }

  touch(id: string): void {
    const slot = this.order.get(id);
    if (!slot) return;
    this.order.delete(id);
    this.order.set(id, slot);
  }

  add(id: string, slot: Slot): void {
    this.remove(id);
    this.order.set(id, slot);
    this.used += slot.bytes;
    for (const [other, s] of this.order) {
      if (this.used <= this.budget || other === id) break;
      this.remove(other);
      s.space.dropLocal(s.key);
    }
  }

  remove(id: string): void {
    const slot = this.order.get(id);
    if (!slot) return;
    this.order.delete(id);
    this.used -= slot.bytes;
  }
}

const shared = new ByteLru(CACHE_BUDGET_BYTES);

/** The bytes every space holds together (for tests and diagnostics). */
export function cachedBytes(): number {
  return shared.bytes;
}

export class CacheSpace<T> {
  readonly name: string;
  readonly maxEntryBytes: number;
  private readonly values = new Map<string, T>();

  constructor(name: string, maxEntryBytes: number) {
    this.name = name;
    this.maxEntryBytes = Math.min(maxEntryBytes, CACHE_BUDGET_BYTES);
  }

  private id(key: string): string {
    return `${this.name}\u0000${key}`;
  }

  get(key: string): T | undefined {
    const v = this.values.get(key);
    if (v !== undefined) shared.touch(this.id(key));
    return v;
  }

  /** Keeps `value` (taking `bytes`) unless it is larger than this space allows; evicts others to make room. */
  set(key: string, value: T, bytes: number): boolean {
    if (bytes > this.maxEntryBytes) {
      this.delete(key);
      return false;
    }
    this.values.set(key, value);
    shared.add(this.id(key), { space: this, key, bytes });
    return true;
  }

  delete(key: string): void {
    this.values.delete(key);
    shared.remove(this.id(key));
  }

  /** Called by the shared order when it evicts this space's entry. */
  dropLocal(key: string): void {
    this.values.delete(key);
  }
}
