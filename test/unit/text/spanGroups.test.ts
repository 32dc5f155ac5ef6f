import * as assert from 'node:assert/strict';
import { groupByLabel, groupByText, pageOf } from '../../../src/text/spanGroups';

describe('grouping entities for the Entities view', () => {
  const text = 'Paris, London, Paris and Rome. Paris.';
  const at = (word: string, from = 0) => {
    const start = text.indexOf(word, from);
    return { start, end: start + word.length, label: 'LOC' };
  };
  const spans = [at('Paris'), at('London'), at('Paris', 10), at('Rome'), at('Paris', 31)];

  it('groups spans by their text, the most frequent first, ties in document order', () => {
    const groups = groupByText(text, spans);
    assert.deepEqual(
      groups.map((g) => [g.text, g.spans.length]),
      [
        ['Paris', 3],
        ['London', 1],
        ['Rome', 1],
      ],
    );
    assert.deepEqual(
      groups[0].spans.map((s) => s.start),
      [0, 15, 31],
    );
  });

  it('groups by label in alphabetical order', () => {
    const labels = groupByLabel([
      { label: 'PER', n: 1 },
      { label: 'LOC', n: 2 },
      { label: 'PER', n: 3 },
    ]);
    assert.deepEqual([...labels.keys()], ['LOC', 'PER']);
    assert.deepEqual(
      labels.get('PER')!.map((s) => s.n),
      [1, 3],
    );
  });

  it('pages a long list and says how many items follow', () => {
    const items = Array.from({ length: 250 }, (_, i) => i);
    assert.deepEqual(pageOf(items, 0, 100).rest, 150);
    const last = pageOf(items, 200, 100);
    assert.deepEqual([last.items.length, last.items[0], last.rest], [50, 200, 0]);
    assert.deepEqual(pageOf([], 0, 100), { items: [], rest: 0 });
  });
});
