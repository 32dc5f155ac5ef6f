import assert from 'node:assert/strict';
import fc from 'fast-check';
import { argmax, logSoftmaxAt, sigmoid, softmax, softmaxRows } from '../../../src/heads/math';

const logits = fc.array(fc.double({ min: -50, max: 50, noNaN: true }), { minLength: 1 });

describe('the heads’ shared maths', () => {
  it('gives probabilities that sum to 1, the largest to the largest logit', () => {
    fc.assert(
      fc.property(logits, (values) => {
        const p = softmax(values);
        assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-9);
        assert.equal(p[argmax(values)], Math.max(...p), 'the largest logit is the most likely');
      }),
    );
  });

  it('does not overflow on large logits (shifted by the maximum)', () => {
    assert.deepEqual(Array.from(softmax([1000, 1000])), [0.5, 0.5]);
    assert.deepEqual(Array.from(softmax([-Infinity, 0])), [0, 1]);
  });

  it('takes one log-probability out of a row as log(softmax(row)) does', () => {
    fc.assert(
      fc.property(logits, fc.nat(), (values, pick) => {
        const row = [7, ...values, -3];
        const index = pick % values.length;
        const expected = Math.log(softmax(values)[index]);
        const got = logSoftmaxAt(row, index, 1, values.length);
        assert.ok(Math.abs(got - expected) < 1e-9 || got === expected, `${got} vs ${expected}`);
      }),
    );
  });

  it('splits softmaxRows into rows and refuses values that do not fill them', () => {
    const rows = softmaxRows(new Float32Array([0, 0, 1, 1, 2, 2]), 2);
    assert.deepEqual(
      rows.map((row) => Array.from(row)),
      [
        [0.5, 0.5],
        [0.5, 0.5],
        [0.5, 0.5],
      ],
    );
    assert.throws(() => softmaxRows([1, 2, 3], 2), /do not form rows of 2/);
  });

  it('has one NaN rule: a NaN makes every probability NaN, and argmax picks the first NaN', () => {
    assert.ok(Array.from(softmax([1, NaN, 2])).every(Number.isNaN));
    assert.ok(Number.isNaN(logSoftmaxAt([1, NaN, 2], 0)));
    assert.ok(Number.isNaN(sigmoid(NaN)));
    assert.equal(argmax([1, 3, NaN, 3, NaN]), 2);
    assert.equal(argmax([1, 3, 2, 3]), 1, 'the first maximum');
  });

  it('has the logistic sigmoid', () => {
    assert.equal(sigmoid(0), 0.5);
    assert.ok(Math.abs(sigmoid(2) + sigmoid(-2) - 1) < 1e-15);
  });
});
