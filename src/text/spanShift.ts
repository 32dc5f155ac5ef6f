// Spans (UTF-16 offsets into a document) kept on their text while the document is edited.

/** `rangeLength` code units at `rangeOffset` replaced by `text` (VS Code's content change). */
export interface TextChange {
  rangeOffset: number;
  rangeLength: number;
  text: string;
}

/**
 * Moves each span after a change by the change's length difference; a span that overlaps a
 * change is dropped (its text is no longer the text that was tagged). The changes are those of
 * one edit, each against the document before the edit, as VS Code reports them.
 */
export function shiftSpans<T extends { start: number; end: number }>(
  spans: readonly T[],
  changes: readonly TextChange[],
): T[] {
  let current = [...spans];
  // Against the document before the edit, so applying the last change first is safe.
  const ordered = [...changes].sort((a, b) => b.rangeOffset - a.rangeOffset);
  for (const change of ordered) {
    const start = change.rangeOffset;
    const end = start + change.rangeLength;
    const delta = change.text.length - change.rangeLength;
    current = current.flatMap((span) => {
      if (span.end <= start) return [span];
      if (span.start >= end) return [{ ...span, start: span.start + delta, end: span.end + delta }];
      return [];
    });
  }
  return current;
}
