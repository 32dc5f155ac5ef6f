import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  nextSurprising,
  normalizeThresholds,
  strideWindows,
  summarize,
  surprisalBits,
  surprisalStep,
} from '../../../src/heads/surprisal';

describe('surprisal maths', () => {
  it('reads a text within the context as one window that scores every token but the first', () => {
    assert.deepEqual(strideWindows(20, 128, 64), [{ start: 0, end: 20, scoreFrom: 1 }]);
    assert.deepEqual(strideWindows(1, 128, 64), [{ start: 0, end: 1, scoreFrom: 1 }]);
    assert.deepEqual(strideWindows(0, 128, 64), []);
  });

  it("moves windows of n_positions by the stride, counting only each window's new tokens (HF's guide)", () => {
    // The reference long text: 408 tokens, n_positions 128, stride 64 (six windows in the fixture).
    assert.deepEqual(strideWindows(408, 128, 64), [
      { start: 0, end: 128, scoreFrom: 1 },
      { start: 64, end: 192, scoreFrom: 128 },
      { start: 128, end: 256, scoreFrom: 192 },
      { start: 192, end: 320, scoreFrom: 256 },
      { start: 256, end: 384, scoreFrom: 320 },
      { start: 320, end: 408, scoreFrom: 384 },
    ]);
    assert.equal(strideWindows(408, 128, 32).length, 10);
    assert.deepEqual(strideWindows(408, 128, 32).at(-1), { start: 288, end: 408, scoreFrom: 384 });
  });

  it('leaves the first token of each window unscored when the stride is the whole context', () => {
    assert.deepEqual(strideWindows(300, 128, 128), [
      { start: 0, end: 128, scoreFrom: 1 },
      { start: 128, end: 256, scoreFrom: 129 },
      { start: 256, end: 300, scoreFrom: 257 },
    ]);
  });

  it('scores every token after the first exactly once, with at most n_positions tokens per window', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3000 }),
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 300 }),
        (tokens, maxLength, strideSeed) => {
          const stride = 1 + (strideSeed % maxLength);
          const windows = strideWindows(tokens, maxLength, stride);
          const scored = new Array<number>(tokens).fill(0);
          for (const w of windows) {
            assert.ok(w.end - w.start <= maxLength);
            assert.ok(w.scoreFrom > w.start, 'a scored token has a token before it in its window');
            for (let i = w.scoreFrom; i < w.end; i++) scored[i]++;
          }
          if (tokens > 0) assert.equal(windows.at(-1)!.end, tokens);
          if (stride < maxLength)
            assert.deepEqual(scored.slice(1), new Array(Math.max(0, tokens - 1)).fill(1));
          assert.equal(scored[0] ?? 0, 0);
        },
      ),
    );
  });

  it('rejects a stride of 0 or wider than the context', () => {
    assert.throws(() => strideWindows(10, 128, 0), /stride must be a whole number from 1/);
    assert.throws(() => strideWindows(10, 128, 129), /stride must be/);
    assert.throws(() => strideWindows(10, 128, 1.5), /stride must be/);
  });

  it('gives perplexity as exp of the mean NLL over the scored tokens, and bits per token', () => {
    const summary = summarize([null, Math.log(0.5), Math.log(0.25)]);
    assert.equal(summary.scored, 2);
    assert.ok(Math.abs(summary.mean_nll! - 1.5 * Math.LN2) < 1e-12);
    assert.ok(Math.abs(summary.perplexity! - Math.sqrt(8)) < 1e-12);
    assert.ok(Math.abs(summary.bits_per_token! - 1.5) < 1e-12);
    assert.deepEqual(summarize([null]), {
      mean_nll: null,
      perplexity: null,
      bits_per_token: null,
      scored: 0,
    });
  });

  it('measures surprisal in bits', () => {
    assert.equal(surprisalBits(Math.log(0.5)), 1);
    assert.ok(Math.abs(surprisalBits(Math.log(1 / 4096)) - 12) < 1e-12);
    assert.equal(surprisalBits(0), -0);
  });

  it('puts a surprisal on the step of the highest threshold it reaches', () => {
    const steps = [3, 6, 9];
    assert.deepEqual(
      [0, 2.99, 3, 5, 6, 8.9, 9, 40].map((bits) => surprisalStep(bits, steps)),
      [0, 0, 1, 1, 2, 2, 3, 3],
    );
    assert.equal(surprisalStep(50, []), 0);
  });

  it('sorts the thresholds a setting gives and drops what is not a number', () => {
    assert.deepEqual(normalizeThresholds([9, 'x', 3, 6, 3, Number.NaN, null]), [3, 6, 9]);
  });

  it('finds the next token above the threshold after an offset, wrapping round', () => {
    const tokens = [
      { start: 0, bits: null },
      { start: 5, bits: 14 },
      { start: 9, bits: 2 },
      { start: 12, bits: 13 },
    ];
    assert.equal(nextSurprising(tokens, -1, 12), 1);
    assert.equal(nextSurprising(tokens, 5, 12), 3);
    assert.equal(nextSurprising(tokens, 12, 12), 1);
    assert.equal(nextSurprising(tokens, 0, 20), -1);
  });
});
