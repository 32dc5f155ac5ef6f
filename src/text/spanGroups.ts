/** The spans that cover one text, e.g. every "London" tagged LOC. */
export interface TextGroup<T> {
  text: string;
  spans: T[];
}

/** Spans grouped by the text they cover: the most frequent first, ties in document order. */
export function groupByText<T extends { start: number; end: number }>(
  text: string,
  spans: readonly T[],
): TextGroup<T>[] {
  const groups = new Map<string, TextGroup<T>>();
  for (const span of spans) {
    const covered = text.slice(span.start, span.end);
    let group = groups.get(covered);
    if (!group) groups.set(covered, (group = { text: covered, spans: [] }));
    group.spans.push(span);
  }
  // Map keeps insertion order, i.e. first occurrence, and the sort is stable.
  return [...groups.values()].sort((a, b) => b.spans.length - a.spans.length);
}

/** Spans by label, labels in alphabetical order. */
export function groupByLabel<T extends { label: string }>(spans: readonly T[]): Map<string, T[]> {
  const labels = new Map<string, T[]>();
  for (const span of spans) {
    let list = labels.get(span.label);
    if (!list) labels.set(span.label, (list = []));
    list.push(span);
  }
  return new Map([...labels].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** One page of a long list: the items from `offset`, at most `size`, and how many come after. */
export function pageOf<T>(
  items: readonly T[],
  offset: number,
  size: number,
): { items: T[]; rest: number } {
  const slice = items.slice(offset, offset + size);
  return { items: slice, rest: Math.max(0, items.length - offset - slice.length) };
}
