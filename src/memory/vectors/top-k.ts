import type { VectorMatch } from "./index.ts";

/** Keeps the k best matches, best first. */
export class TopK {
  readonly items: VectorMatch[] = [];
  private readonly k: number;
  constructor(k: number) {
    this.k = k;
  }
  offer(m: VectorMatch): void {
    const xs = this.items;
    if (xs.length === this.k && m.score <= xs[xs.length - 1].score) return;
    let i = xs.length;
    while (i > 0 && xs[i - 1].score < m.score) i--;
    xs.splice(i, 0, m);
    if (xs.length > this.k) xs.pop();
  }
}
