/**
 * Spherical k-means (cosine): the coarse quantizer of the IVF index. Points
 * and centroids are unit vectors; a point belongs to the centroid with the
 * largest dot product. Seeded k-means++ start, Lloyd iterations, an empty
 * list takes the point its centroid serves worst: the same sample and seed
 * give the same centroids.
 */
import { Rng } from "../../model/rng.ts";

/** Scales each row of `rows` (n × dim) to unit length, in place. */
export function normalizeRows(rows: Float32Array, dim: number): void {
  for (let at = 0; at < rows.length; at += dim) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += rows[at + d] * rows[at + d];
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let d = 0; d < dim; d++) rows[at + d] *= inv;
  }
}

function dotRows(a: Float32Array, at: number, b: Float32Array, bt: number, dim: number): number {
  let s = 0;
  for (let d = 0; d < dim; d++) s += a[at + d] * b[bt + d];
  return s;
}

/** The centroid (row of `centroids`, k × dim) nearest to `v` by dot product, and that dot. */
export function nearest(centroids: Float32Array, dim: number, v: Float32Array, vAt = 0): { list: number; dot: number } {
  let best = -1;
  let bestDot = -Infinity;
  for (let c = 0, at = 0; at < centroids.length; c++, at += dim) {
    const s = dotRows(centroids, at, v, vAt, dim);
    if (s > bestDot) {
      bestDot = s;
      best = c;
    }
  }
  return { list: best, dot: bestDot };
}

/** The `n` centroids nearest to `q` by dot product, nearest first. */
export function nearestLists(centroids: Float32Array, dim: number, q: Float32Array, n: number): number[] {
  const k = centroids.length / dim;
  const dots = new Float64Array(k);
  for (let c = 0; c < k; c++) dots[c] = dotRows(centroids, c * dim, q, 0, dim);
  const order = Array.from({ length: k }, (_, c) => c);
  order.sort((a, b) => dots[b] - dots[a] || a - b);
  return order.slice(0, Math.min(n, k));
}

/**
 * `k` unit centroids of the unit rows of `points` (n × dim), after `iterations`
 * Lloyd iterations (fewer when assignments stop changing).
 */
export function sphericalKMeans(points: Float32Array, dim: number, k: number, iterations: number, seed: number): Float32Array {
  const n = points.length / dim;
  if (n === 0 || k <= 0) return new Float32Array(0);
  k = Math.min(k, n);
  const rng = new Rng(seed, 0x1f5);
  const centroids = new Float32Array(k * dim);

  // k-means++ on cosine distance (1 − dot): each next centroid drawn in proportion to the distance to the nearest chosen one.
  const far = new Float64Array(n).fill(Infinity);
  let pick = rng.int(n);
  for (let c = 0; c < k; c++) {
    centroids.set(points.subarray(pick * dim, (pick + 1) * dim), c * dim);
    let total = 0;
    for (let i = 0; i < n; i++) {
      const d = Math.max(0, 1 - dotRows(points, i * dim, centroids, c * dim, dim));
      if (d < far[i]) far[i] = d;
      total += far[i];
    }
    if (c === k - 1) break;
    let r = rng.next() * total;
    pick = n - 1;
    for (let i = 0; i < n; i++) {
      r -= far[i];
      if (r < 0) {
        pick = i;
        break;
      }
    }
  }

  const assign = new Int32Array(n).fill(-1);
  const fit = new Float64Array(n);
  const sums = new Float64Array(k * dim);
  const counts = new Int32Array(k);
  for (let it = 0; it < iterations; it++) {
    let changed = 0;
    for (let i = 0; i < n; i++) {
      const { list, dot } = nearest(centroids, dim, points, i * dim);
      if (assign[i] !== list) changed++;
      assign[i] = list;
      fit[i] = dot;
    }
    if (changed === 0 && it > 0) break;
    sums.fill(0);
    counts.fill(0);
    for (let i = 0; i < n; i++) {
      const c = assign[i];
      counts[c]++;
      for (let d = 0; d < dim; d++) sums[c * dim + d] += points[i * dim + d];
    }
    // An empty list takes the point worst served by its own centroid (each point at most once).
    const taken = new Set<number>();
    for (let c = 0; c < k; c++) {
      if (counts[c] > 0) continue;
      let worst = -1;
      for (let i = 0; i < n; i++) if (!taken.has(i) && (worst < 0 || fit[i] < fit[worst])) worst = i;
      taken.add(worst);
      for (let d = 0; d < dim; d++) sums[c * dim + d] = points[worst * dim + d];
      counts[c] = 1;
    }
    for (let c = 0; c < k; c++) {
      let s = 0;
      for (let d = 0; d < dim; d++) s += sums[c * dim + d] * sums[c * dim + d];
      const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
      for (let d = 0; d < dim; d++) centroids[c * dim + d] = sums[c * dim + d] * inv;
    }
  }
  return centroids;
}
