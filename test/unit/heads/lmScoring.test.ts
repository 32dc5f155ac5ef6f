import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import {
  defaultZeroShotTemplate,
  scoreContinuation,
  scoreOptions,
  scoringInput,
  zeroShotInputs,
} from '../../../src/heads/lmScoring';
import { fixturesDir } from '../../support/fixtures';

interface ScoredOption {
  continuation: string;
  continuation_ids: number[];
  input_ids: number[];
  token_log_probs: number[];
  sum_log_prob: number;
  n_tokens: number;
  mean_log_prob: number;
}

interface ScoringTask {
  id: string;
  kind: 'multiple_choice' | 'zero_shot';
  context: string;
  context_ids: number[];
  options: ScoredOption[];
  softmax_of_sum: number[];
  softmax_of_mean: number[];
}

interface CaseTask {
  id: string;
  kind: string;
  context: string;
  continuations?: string[];
  template?: string;
  labels?: string[];
}

const folder = path.join(fixturesDir, 'gpt2-tiny-lm');
const readJson = <T>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T;
const expected = readJson<{ scoring: ScoringTask[] }>(path.join(folder, 'expected.json'));
const cases = readJson<{ lm_scoring: CaseTask[] }>(path.join(fixturesDir, 'cases.json')).lm_scoring;
const config = readJson<{ n_layer: number; n_head: number; n_embd: number; vocab_size: number }>(
  path.join(folder, 'config.json'),
);

function assertClose(actual: number, wanted: number, tolerance: number, what: string): void {
  assert.ok(Math.abs(actual - wanted) <= tolerance, `${what}: ${actual} vs ${wanted}`);
}

function assertAllClose(actual: number[], wanted: number[], tolerance: number, what: string): void {
  assert.equal(actual.length, wanted.length, `${what}: length`);
  actual.forEach((a, i) => assertClose(a, wanted[i], tolerance, `${what} [${i}]`));
}

/** One prefill pass of the LM export with an empty past, as transformers.js's first step. */
async function lmLogits(session: ort.InferenceSession, ids: number[]): Promise<Float32Array> {
  const n = ids.length;
  const headDim = config.n_embd / config.n_head;
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, n]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]),
    position_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map((_, i) => BigInt(i))), [1, n]),
  };
  for (let layer = 0; layer < config.n_layer; layer++) {
    for (const kind of ['key', 'value']) {
      feeds[`past_key_values.${layer}.${kind}`] = new ort.Tensor('float32', new Float32Array(0), [
        1,
        config.n_head,
        0,
        headDim,
      ]);
    }
  }
  const output = await session.run(feeds);
  return output.logits.data as Float32Array;
}

describe('LM scoring of continuations (LM multiple choice, zero-shot)', () => {
  it('rebuilds the recorded zero-shot continuations from the text, labels and template', () => {
    const zeroShot = cases.filter((c) => c.kind === 'zero_shot');
    assert.ok(zeroShot.length > 0);
    for (const c of zeroShot) {
      assert.equal(c.template, defaultZeroShotTemplate);
      const task = expected.scoring.find((t) => t.id === c.id)!;
      const inputs = zeroShotInputs(c.context, c.labels!);
      assert.equal(inputs.context, task.context);
      assert.deepEqual(
        inputs.options.map((o) => o.continuation),
        task.options.map((o) => o.continuation),
      );
      assert.deepEqual(
        inputs.options.map((o) => o.label),
        c.labels,
      );
    }
  });

  it('scores every recorded option like HF: ids, per-token log-probs, sum and mean, softmaxes over options', async () => {
    const { AutoTokenizer, env } = await import('@huggingface/transformers');
    env.allowRemoteModels = false;
    env.localModelPath = fixturesDir + path.sep;
    const tokenizer = await AutoTokenizer.from_pretrained('gpt2-tiny-lm');
    const session = await ort.InferenceSession.create(path.join(folder, 'onnx', 'model.onnx'));
    try {
      assert.ok(expected.scoring.length > 0);
      for (const task of expected.scoring) {
        const contextIds = tokenizer.encode(task.context);
        assert.deepEqual(contextIds, task.context_ids, `${task.id}: context ids`);
        const scores = [];
        for (const option of task.options) {
          const what = `${task.id} ${JSON.stringify(option.continuation)}`;
          const input = scoringInput(contextIds, tokenizer.encode(option.continuation));
          assert.deepEqual(input.input_ids, option.input_ids, `${what}: input ids`);
          const logits = await lmLogits(session, input.input_ids);
          const score = scoreContinuation(logits, config.vocab_size, input);
          assert.equal(score.n_tokens, option.n_tokens);
          assertAllClose(score.token_log_probs, option.token_log_probs, 1e-3, `${what} log-probs`);
          assertClose(score.sum_log_prob, option.sum_log_prob, 1e-3, `${what} sum`);
          assertClose(score.mean_log_prob, option.mean_log_prob, 1e-3, `${what} mean`);
          scores.push(score);
        }
        const softmaxes = scoreOptions(scores);
        assertAllClose(
          softmaxes.softmax_of_sum,
          task.softmax_of_sum,
          1e-4,
          `${task.id} softmax of sums`,
        );
        assertAllClose(
          softmaxes.softmax_of_mean,
          task.softmax_of_mean,
          1e-4,
          `${task.id} softmax of means`,
        );
      }
    } finally {
      await session.release();
    }
  });

  it('turns recorded sums and means into the recorded softmaxes over the options', () => {
    for (const task of expected.scoring) {
      const result = scoreOptions(task.options);
      assertAllClose(result.softmax_of_sum, task.softmax_of_sum, 1e-4, `${task.id} sums`);
      assertAllClose(result.softmax_of_mean, task.softmax_of_mean, 1e-4, `${task.id} means`);
    }
  });

  it('reads each continuation token’s log-prob from the row of the position before it', () => {
    // Vocabulary of 3; row t holds the logits predicting token t + 1.
    const logits = [0, 0, 0, Math.log(1), Math.log(2), Math.log(1), 5, 5, 5];
    const score = scoreContinuation(logits, 3, { input_ids: [0, 1, 2], continuation_start: 1 });
    assertAllClose(score.token_log_probs, [Math.log(1 / 3), Math.log(1 / 4)], 1e-12, 'log-probs');
    assertClose(score.mean_log_prob, score.sum_log_prob / 2, 1e-12, 'mean');
  });

  it('refuses an empty context or continuation, and a template without {}', () => {
    assert.throws(() => scoringInput([], [1]), /context/);
    assert.throws(() => scoringInput([1], []), /continuation/);
    assert.throws(() => zeroShotInputs('text', ['a'], 'no slot'), /\{\}/);
    assert.throws(
      () => scoreContinuation([0, 0], 2, { input_ids: [0, 1], continuation_start: 1 }),
      /logits/,
    );
  });
});
