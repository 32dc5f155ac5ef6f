import * as assert from 'node:assert/strict';
import {
  percentages,
  shiftSpans,
  touchingVariants,
  trimRange,
  visibleSpans,
} from '../../../src/text/spans';

const span = (start: number, end: number, score = 0.5, label = 'LOC') => ({
  start,
  end,
  score,
  label,
});

describe('spans as the editor shows them', () => {
  it('trims a span to its visible characters: no leading space, line break or trailing space', () => {
    const text = 'I live in London\n and Paris ';
    assert.deepEqual(trimRange(text, 9, 16), [10, 16]);
    const [start, end] = trimRange(text, 16, text.length);
    assert.equal(text.slice(start, end), 'and Paris');
    const [london] = visibleSpans(text, [span(9, 16)]);
    assert.equal(text.slice(london.start, london.end), 'London');
  });

  it('drops spans that cover only whitespace', () => {
    assert.deepEqual(visibleSpans('a \u3000\n b', [span(1, 5)]), []);
  });

  it('keeps one span per range, the highest-scoring, where the head gives several (CJK)', () => {
    // HF's pipeline on "東京": two byte-level tokens share 東, each with its own label.
    const text = '東京は';
    const spans = [span(0, 1, 0.4, 'LOC'), span(0, 1, 0.7, 'ORG'), span(1, 2, 0.3, 'PER')];
    assert.deepEqual(
      visibleSpans(text, spans).map((s) => [s.label, s.start, s.end]),
      [
        ['ORG', 0, 1],
        ['PER', 1, 2],
      ],
    );
  });

  it('treats " London" and "London" as one range once trimmed', () => {
    const text = 'in London';
    const kept = visibleSpans(text, [span(2, 9, 0.9, 'LOC'), span(3, 9, 0.2, 'PER')]);
    assert.deepEqual(
      kept.map((s) => [s.label, s.start, s.end]),
      [['LOC', 3, 9]],
    );
  });

  it('leaves spans without surrounding whitespace as they are (same objects)', () => {
    const spans = [span(0, 3), span(4, 7)];
    const kept = visibleSpans('abc def', spans);
    assert.equal(kept[0], spans[0]);
    assert.equal(kept[1], spans[1]);
  });
});

describe('decorations for touching spans', () => {
  it('alternates variants along touching spans and restarts after a gap', () => {
    assert.deepEqual(
      touchingVariants([span(0, 2), span(2, 4), span(4, 6), span(7, 9)]),
      [0, 1, 0, 0],
    );
  });

  it('gives separate spans the first variant', () => {
    assert.deepEqual(touchingVariants([span(0, 2), span(3, 4)]), [0, 0]);
    assert.deepEqual(touchingVariants([]), []);
  });
});

describe('scores as percentages', () => {
  it('shows enough decimals to tell distinct scores apart', () => {
    assert.deepEqual(percentages([0.0004, 0.0002, 0.00001]), ['0.040%', '0.020%', '0.001%']);
    assert.deepEqual(percentages([0.91234, 0.5]), ['91.2%', '50.0%']);
  });

  it('never shows a score above zero as zero, and equal scores stay equal', () => {
    assert.deepEqual(percentages([0.000003]), ['0.0003%']);
    assert.deepEqual(percentages([0.25, 0.25]), ['25.0%', '25.0%']);
    assert.deepEqual(percentages([0]), ['0.0%']);
  });
});

describe('spans through edits', () => {
  const spans = () => [span(0, 3), span(4, 9), span(10, 14)];

  it('moves the spans after an insertion, in place, and keeps the ones before it', () => {
    const list = spans();
    const kept = shiftSpans(list, [{ offset: 4, removed: 0, inserted: 2 }]);
    assert.equal(kept, list);
    assert.deepEqual(
      kept.map((s) => [s.start, s.end]),
      [
        [0, 3],
        [6, 11],
        [12, 16],
      ],
    );
  });

  it('drops the spans a change overlaps, also when text is deleted around them', () => {
    const kept = shiftSpans(spans(), [{ offset: 2, removed: 6, inserted: 0 }]);
    assert.deepEqual(
      kept.map((s) => [s.start, s.end]),
      [[4, 8]],
    );
  });

  it('applies the changes of one edit against the text before it', () => {
    const kept = shiftSpans(spans(), [
      { offset: 0, removed: 0, inserted: 1 },
      { offset: 9, removed: 1, inserted: 3 },
    ]);
    assert.deepEqual(
      kept.map((s) => [s.start, s.end]),
      [
        [1, 4],
        [5, 10],
        [13, 17],
      ],
    );
  });
});
