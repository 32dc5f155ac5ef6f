import { performance } from 'node:perf_hooks';

/** Median with min and max over repeated runs (milliseconds unless said otherwise). */
export interface Stat {
  median: number;
  min: number;
  max: number;
  n: number;
  samples: number[];
}

export function stat(samples: readonly number[]): Stat {
  const sorted = [...samples].sort((a, b) => a - b);
  const n = sorted.length;
  const median =
    n === 0 ? NaN : n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  return {
    median: round(median),
    min: round(sorted[0] ?? NaN),
    max: round(sorted[n - 1] ?? NaN),
    n,
    samples: samples.map(round),
  };
}

export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Milliseconds `work` took. */
export async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await work();
  return { ms: performance.now() - started, value };
}

/** Linear interpolation (and extrapolation at the ends) in a table of (tokens, ms). */
export function interpolate(points: readonly (readonly [number, number])[], x: number): number {
  const sorted = [...points].sort((a, b) => a[0] - b[0]);
  let i = 1;
  while (i < sorted.length - 1 && sorted[i][0] < x) i++;
  const [x0, y0] = sorted[i - 1];
  const [x1, y1] = sorted[i];
  return Math.max(0, y0 + ((y1 - y0) * (x - x0)) / (x1 - x0));
}
