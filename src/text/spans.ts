/** A span of text by UTF-16 offsets, with the score of whatever found it. */
export interface ScoredSpan {
  start: number;
  end: number;
  score: number;
}

const space = /\s/;

/** [start, end) without the whitespace it begins or ends with; empty when it is all whitespace. */
export function trimRange(text: string, start: number, end: number): [number, number] {
  while (start < end && space.test(text[start])) start++;
  while (end > start && space.test(text[end - 1])) end--;
  return [start, end];
}

/**
 * The spans as the editor shows them: each trimmed to its visible characters (byte-level BPE
 * tokens carry the space before a word, so the pipeline's offsets start on it), spans of only
 * whitespace dropped, and one span per range, the highest-scoring one. Byte-level tokens that
 * share a character (CJK, emoji) give Hugging Face's pipeline several entities with the same
 * range and different labels; the heads keep them to match it, the editor shows one.
 * The order of the input is kept (the first span of each range holds its place).
 */
export function visibleSpans<T extends ScoredSpan>(text: string, spans: readonly T[]): T[] {
  const kept: T[] = [];
  const byRange = new Map<string, number>();
  for (const span of spans) {
    const [start, end] = trimRange(text, span.start, span.end);
    if (start === end) continue;
    const trimmed = start === span.start && end === span.end ? span : { ...span, start, end };
    const key = `${start}:${end}`;
    const index = byRange.get(key);
    if (index === undefined) {
      byRange.set(key, kept.length);
      kept.push(trimmed);
    } else if (trimmed.score > kept[index].score) {
      kept[index] = trimmed;
    }
  }
  return kept;
}

/**
 * Alternates between two variants (0 and 1) along spans that touch, so that an editor, which
 * draws touching ranges of one decoration as one box, draws each span in its own. Spans must
 * be sorted by start; spans that do not touch the previous one start again at variant 0.
 */
export function touchingVariants(spans: readonly { start: number; end: number }[]): number[] {
  const variants: number[] = [];
  for (let i = 0; i < spans.length; i++) {
    const touches = i > 0 && spans[i].start <= spans[i - 1].end;
    variants.push(touches ? 1 - variants[i - 1] : 0);
  }
  return variants;
}

/**
 * Scores as percentages with the fewest decimals (1 to 6) that tell the distinct ones apart and
 * show no score above zero as zero: [0.0004, 0.0002] → ["0.04%", "0.02%"] where toFixed(3)
 * showed "0.000" twice.
 */
export function percentages(scores: readonly number[]): string[] {
  const distinct = new Set(scores).size;
  for (let digits = 1; ; digits++) {
    const shown = scores.map((score) => (score * 100).toFixed(digits));
    const readable =
      new Set(shown).size === distinct &&
      scores.every((score, i) => score <= 0 || Number(shown[i]) > 0);
    if (readable || digits === 6) return shown.map((value) => `${value}%`);
  }
}

/** An edit as offsets into the text before it: `removed` characters at `offset` became `inserted`. */
export interface TextChange {
  offset: number;
  removed: number;
  inserted: number;
}

/**
 * Keeps spans on their text through edits: spans after a change move by its length difference
 * (in place: a keystroke in a document with 100,000 entities allocates nothing), spans a change
 * overlaps are dropped. The changes of one edit are all against the text before it, as VS Code
 * reports them. Returns the array itself when no span was dropped, else a new one.
 */
export function shiftSpans<T extends { start: number; end: number }>(
  spans: T[],
  changes: readonly TextChange[],
): T[] {
  let kept = spans;
  // The last change first: it moves nothing the earlier changes' offsets refer to.
  const ordered = [...changes].sort((a, b) => b.offset - a.offset);
  for (const change of ordered) {
    const start = change.offset;
    const end = start + change.removed;
    const delta = change.inserted - change.removed;
    const dropped = new Set<T>();
    for (const span of kept) {
      if (span.end <= start) continue;
      if (span.start >= end) {
        span.start += delta;
        span.end += delta;
      } else dropped.add(span);
    }
    if (dropped.size > 0) kept = kept.filter((span) => !dropped.has(span));
  }
  return kept;
}
