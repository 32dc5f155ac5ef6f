import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { windowsFor } from '../../../src/text/windows';
import { fixturesDir } from '../../support/fixtures';

interface RecordedWindow {
  first_token_index: number;
  n_tokens: number;
  n_padding: number;
}

describe('windowsFor', () => {
  it("reproduces the windows HF's tokenizer made for the long text with stride 32", () => {
    const config = JSON.parse(
      readFileSync(path.join(fixturesDir, 'gpt2-tiny-ner', 'config.json'), 'utf8'),
    );
    const expected = JSON.parse(
      readFileSync(path.join(fixturesDir, 'gpt2-tiny-ner', 'expected.json'), 'utf8'),
    );
    const long = expected.cases.find((c: { id: string }) => c.id === 'long_text');
    const recorded: RecordedWindow[] = long.with_stride.windows;
    const windows = windowsFor(long.n_tokens, config.n_positions, long.with_stride.stride);
    assert.deepEqual(
      windows,
      recorded.map((w) => ({
        start: w.first_token_index,
        length: w.n_tokens,
        padding: w.n_padding,
      })),
    );
  });

  it('keeps an input that fits, or is empty, in one unpadded window', () => {
    assert.deepEqual(windowsFor(128, 128, 32), [{ start: 0, length: 128, padding: 0 }]);
    assert.deepEqual(windowsFor(5, 128, 32), [{ start: 0, length: 5, padding: 0 }]);
    assert.deepEqual(windowsFor(0, 128, 32), [{ start: 0, length: 0, padding: 0 }]);
  });

  it('steps by maxLength − stride and stops at the first window that reaches the end', () => {
    assert.deepEqual(windowsFor(129, 128, 32), [
      { start: 0, length: 128, padding: 0 },
      { start: 96, length: 33, padding: 95 },
    ]);
    assert.deepEqual(windowsFor(224, 128, 32), [
      { start: 0, length: 128, padding: 0 },
      { start: 96, length: 128, padding: 0 },
    ]);
  });

  it('covers every token, overlapping neighbours by at least stride tokens', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3000 }),
        fc.integer({ min: 1, max: 300 }),
        fc.nat(),
        (n, max, s) => {
          const stride = s % max;
          const windows = windowsFor(n, max, stride);
          assert.equal(windows[0].start, 0);
          assert.equal(windows[windows.length - 1].start + windows[windows.length - 1].length, n);
          windows.forEach((w, k) => {
            assert.ok(
              w.length <= max && w.length + w.padding === (windows.length > 1 ? max : w.length),
            );
            if (k === 0) return;
            const previous = windows[k - 1];
            assert.equal(w.start, previous.start + max - stride);
            assert.equal(previous.length, max);
            assert.ok(previous.start + previous.length - w.start >= stride);
          });
        },
      ),
    );
  });

  it('rejects a stride that is not below maxLength and impossible lengths', () => {
    assert.throws(() => windowsFor(300, 128, 128), RangeError);
    assert.throws(() => windowsFor(300, 0, 0), RangeError);
    assert.throws(() => windowsFor(-1, 128, 0), RangeError);
  });
});
