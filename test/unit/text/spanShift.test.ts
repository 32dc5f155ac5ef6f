import assert from 'node:assert/strict';
import fc from 'fast-check';
import { lineStarts } from '../../../src/text/documentChunks';
import { shiftSpans as shiftInPlace, type TextChange } from '../../../src/text/spans';

/** VS Code's content change, as the editor reports it. */
interface ContentChange {
  rangeOffset: number;
  rangeLength: number;
  text: string;
}

/** The spans after the changes, on copies (the editor's shiftSpans moves spans in place). */
function shiftSpans<T extends { start: number; end: number }>(
  spans: readonly T[],
  changes: readonly ContentChange[],
): T[] {
  const asChanges: TextChange[] = changes.map((change) => ({
    offset: change.rangeOffset,
    removed: change.rangeLength,
    inserted: change.text.length,
  }));
  return shiftInPlace(
    spans.map((span) => ({ ...span })),
    asChanges,
  );
}

const spans = [
  { label: 'PER', start: 0, end: 4 },
  { label: 'LOC', start: 14, end: 19 },
];

describe('spans kept on their text while editing', () => {
  it('moves spans after an insertion by its length and keeps those before it', () => {
    // "John lives in Paris." → "John now lives in Paris."
    const moved = shiftSpans(spans, [{ rangeOffset: 5, rangeLength: 0, text: 'now ' }]);
    assert.deepEqual(moved, [
      { label: 'PER', start: 0, end: 4 },
      { label: 'LOC', start: 18, end: 23 },
    ]);
  });

  it('drops a span an edit touches', () => {
    const moved = shiftSpans(spans, [{ rangeOffset: 15, rangeLength: 2, text: 'ee' }]);
    assert.deepEqual(moved, [{ label: 'PER', start: 0, end: 4 }]);
  });

  it('applies several changes of one edit, each against the text before the edit', () => {
    const changes: ContentChange[] = [
      { rangeOffset: 4, rangeLength: 0, text: ' Smith' },
      { rangeOffset: 10, rangeLength: 3, text: 'at' },
    ];
    assert.deepEqual(shiftSpans(spans, changes), [
      { label: 'PER', start: 0, end: 4 },
      { label: 'LOC', start: 19, end: 24 },
    ]);
  });

  it('keeps every span that the change does not overlap on the same text, and only those', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 40 }),
        fc.nat(),
        fc.nat(),
        fc.string({ maxLength: 5 }),
        (text, a, b, inserted) => {
          const start = a % (text.length + 1);
          const end = start + (b % (text.length - start + 1));
          const edited = text.slice(0, start) + inserted + text.slice(end);
          const all = [];
          for (let s = 0; s < text.length; s++) {
            for (let e = s + 1; e <= text.length; e++) all.push({ start: s, end: e });
          }
          const change = { rangeOffset: start, rangeLength: end - start, text: inserted };
          const kept = all.filter((s) => s.end <= start || s.start >= end);
          const shifted = shiftSpans(all, [change]);
          assert.equal(shifted.length, kept.length, 'spans the change overlaps are dropped');
          kept.forEach((s, i) =>
            assert.equal(
              edited.slice(shifted[i].start, shifted[i].end),
              text.slice(s.start, s.end),
            ),
          );
        },
      ),
    );
  });
});

describe('line starts of a tokenised text', () => {
  it('says a token begins a line when the token before it ends with a line break', () => {
    const text = 'a\nb\r\nc d';
    const offsets: [number, number][] = [
      [0, 2],
      [2, 5],
      [5, 6],
      [6, 8],
    ];
    const starts = lineStarts(text, offsets);
    assert.deepEqual([0, 1, 2, 3].map(starts), [false, true, true, false]);
  });
});
