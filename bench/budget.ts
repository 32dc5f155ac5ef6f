import { performance } from 'node:perf_hooks';

/** The run's time limit: scenarios ask before they start, repetitions stop when it runs out. */
export class Budget {
  readonly skipped: string[] = [];
  private readonly started = performance.now();

  constructor(
    private readonly limitMs: number,
    private readonly log: (line: string) => void,
  ) {}

  elapsedMs(): number {
    return performance.now() - this.started;
  }

  remainingMs(): number {
    return this.limitMs - this.elapsedMs();
  }

  /** False (and the skip recorded with its reason) when `estimateMs` does not fit any more. */
  allows(what: string, estimateMs: number): boolean {
    if (estimateMs <= this.remainingMs()) return true;
    this.skip(
      what,
      `needs about ${Math.round(estimateMs / 1000)} s, ${Math.max(0, Math.round(this.remainingMs() / 1000))} s left of the ${Math.round(this.limitMs / 60000)}-minute budget`,
    );
    return false;
  }

  skip(what: string, why: string): void {
    this.skipped.push(`${what}: ${why}`);
    this.log(`skipped ${what} (${why})`);
  }

  /**
   * Runs `sample` up to `count` times, at least once; stops early (recorded) when the next run
   * would not fit. Returns the samples' results.
   */
  async repeat<T>(what: string, count: number, sample: (i: number) => Promise<T & { ms: number }>) {
    const results: (T & { ms: number })[] = [];
    for (let i = 0; i < count; i++) {
      const last = results[results.length - 1];
      if (last && last.ms * 1.2 > this.remainingMs()) {
        this.skip(`${what} runs ${i + 1}–${count}`, 'the time budget ran out');
        break;
      }
      results.push(await sample(i));
    }
    return results;
  }
}
