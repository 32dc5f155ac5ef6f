// Inline suggestions already made, so that typing along one needs no new generation.

export interface Suggestion {
  prefix: string;
  completion: string;
}

/** Recent suggestions: typing along one is answered from here without asking the host. */
export class SuggestionCache {
  private readonly entries: Suggestion[] = [];
  constructor(private readonly capacity = 32) {}

  add(prefix: string, completion: string): void {
    if (!completion) return;
    this.entries.unshift({ prefix, completion });
    this.entries.length = Math.min(this.entries.length, this.capacity);
  }

  /** The rest of a cached suggestion whose prefix plus what was typed since is `prefix`. */
  lookup(prefix: string): string | undefined {
    for (const entry of this.entries) {
      if (!prefix.startsWith(entry.prefix)) continue;
      const typed = prefix.slice(entry.prefix.length);
      if (entry.completion.startsWith(typed) && entry.completion.length > typed.length) {
        return entry.completion.slice(typed.length);
      }
    }
    return undefined;
  }
}
