import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import {
  doubleHeadsInputs,
  doubleHeadsScores,
  lmChoiceScores,
  rankChoices,
} from '../../../src/heads/multipleChoice';
import type { ContinuationScore } from '../../../src/heads/lmScoring';
import { fixturesDir } from '../../support/fixtures';

const folder = path.join(fixturesDir, 'gpt2-tiny-double-heads');
const readJson = <T>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T;
const expected = readJson<{
  cases: Array<{ id: string; context: string; choices: string[] }>;
  input_ids: number[][][];
  attention_mask: number[][][];
  mc_token_ids: number[][];
  mc_logits: number[][];
  mc_softmax: number[][];
}>(path.join(folder, 'expected.json'));
const config = readJson<{ pad_token_id: number }>(path.join(folder, 'config.json'));
const lmScoring = readJson<{
  scoring: Array<{
    kind: string;
    options: ContinuationScore[];
    softmax_of_sum: number[];
    softmax_of_mean: number[];
  }>;
}>(path.join(fixturesDir, 'gpt2-tiny-lm', 'expected.json')).scoring;

function assertAllClose(actual: number[], wanted: number[], tolerance: number, what: string): void {
  assert.equal(actual.length, wanted.length, `${what}: length`);
  actual.forEach((a, i) =>
    assert.ok(Math.abs(a - wanted[i]) <= tolerance, `${what} [${i}]: ${a} vs ${wanted[i]}`),
  );
}

const flat = (rows: number[][][]): bigint[] => rows.flat(2).map(BigInt);

describe('multiple choice with GPT2DoubleHeadsModel', () => {
  it('builds HF’s [choices, seq] inputs: context + choice as one string, right-padded, mc token = last real token', async () => {
    const { AutoTokenizer, env } = await import('@huggingface/transformers');
    env.allowRemoteModels = false;
    env.localModelPath = fixturesDir + path.sep;
    const tokenizer = await AutoTokenizer.from_pretrained('gpt2-tiny-double-heads');
    // The recorded batch pads both questions to its longest row.
    const padTo = expected.input_ids[0][0].length;
    expected.cases.forEach((c, q) => {
      const inputs = doubleHeadsInputs(
        c.choices.map((choice) => tokenizer.encode(c.context + choice)),
        config.pad_token_id,
        padTo,
      );
      assert.deepEqual(inputs.input_ids, expected.input_ids[q], `${c.id}: input_ids`);
      assert.deepEqual(
        inputs.attention_mask,
        expected.attention_mask[q],
        `${c.id}: attention_mask`,
      );
      assert.deepEqual(inputs.mc_token_ids, expected.mc_token_ids[q], `${c.id}: mc_token_ids`);
    });
  });

  it('gets HF’s mc_logits from the ONNX export and their softmax over the choices', async () => {
    const session = await ort.InferenceSession.create(path.join(folder, 'onnx', 'model.onnx'));
    try {
      const batch = expected.input_ids.length;
      const choices = expected.input_ids[0].length;
      const seq = expected.input_ids[0][0].length;
      const output = await session.run({
        input_ids: new ort.Tensor('int64', BigInt64Array.from(flat(expected.input_ids)), [
          batch,
          choices,
          seq,
        ]),
        attention_mask: new ort.Tensor('int64', BigInt64Array.from(flat(expected.attention_mask)), [
          batch,
          choices,
          seq,
        ]),
        mc_token_ids: new ort.Tensor(
          'int64',
          BigInt64Array.from(expected.mc_token_ids.flat().map(BigInt)),
          [batch, choices],
        ),
      });
      const mcLogits = Array.from(output.mc_logits.data as Float32Array);
      for (let q = 0; q < batch; q++) {
        const row = mcLogits.slice(q * choices, (q + 1) * choices);
        assertAllClose(row, expected.mc_logits[q], 1e-4, `question ${q} mc_logits`);
        assertAllClose(
          doubleHeadsScores(row),
          expected.mc_softmax[q],
          1e-4,
          `question ${q} softmax`,
        );
      }
    } finally {
      await session.release();
    }
  });

  it('turns the recorded mc_logits into the recorded probabilities', () => {
    expected.mc_logits.forEach((logits, q) =>
      assertAllClose(doubleHeadsScores(logits), expected.mc_softmax[q], 1e-4, `question ${q}`),
    );
  });

  it('pads to the longest choice by default and refuses empty choices or a too-short padTo', () => {
    const inputs = doubleHeadsInputs([[1, 2, 3], [4]], 0);
    assert.deepEqual(inputs.input_ids, [
      [1, 2, 3],
      [4, 0, 0],
    ]);
    assert.deepEqual(inputs.attention_mask, [
      [1, 1, 1],
      [1, 0, 0],
    ]);
    assert.deepEqual(inputs.mc_token_ids, [2, 0]);
    assert.throws(() => doubleHeadsInputs([], 0), RangeError);
    assert.throws(() => doubleHeadsInputs([[1], []], 0), RangeError);
    assert.throws(() => doubleHeadsInputs([[1, 2]], 0, 1), RangeError);
  });
});

describe('multiple choice without a double-heads model (LM log-likelihood)', () => {
  it('gives the softmax of the mean log-probs by default, and of the sums when asked', () => {
    const tasks = lmScoring.filter((t) => t.kind === 'multiple_choice');
    assert.ok(tasks.length > 0);
    for (const task of tasks) {
      assertAllClose(lmChoiceScores(task.options), task.softmax_of_mean, 1e-4, 'mean');
      assertAllClose(lmChoiceScores(task.options, 'sum'), task.softmax_of_sum, 1e-4, 'sum');
    }
  });

  it('ranks choices best first and keeps the given order for equal scores', () => {
    const ranked = rankChoices(['a', 'b', 'c'], [0.25, 0.5, 0.25]);
    assert.deepEqual(
      ranked.map((r) => [r.index, r.choice]),
      [
        [1, 'b'],
        [0, 'a'],
        [2, 'c'],
      ],
    );
    assert.throws(() => rankChoices(['a'], [1, 2]), RangeError);
  });
});
