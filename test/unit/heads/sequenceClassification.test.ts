import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import {
  aggregateWindows,
  classifyDocument,
  classifySequence,
  labelScores,
  type ClassificationConfig,
} from '../../../src/heads/sequenceClassification';
import { sigmoid } from '../../../src/heads/math';
import { fixturesDir } from '../../support/fixtures';

interface SentimentCase {
  id: string;
  n_tokens: number;
  truncated_to: number | null;
  logits: number[];
  scores: Array<{ label: string; score: number }>;
}

const folder = path.join(fixturesDir, 'gpt2-tiny-sentiment');
const readJson = <T>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T;
const expected = readJson<{ cases: SentimentCase[] }>(path.join(folder, 'expected.json'));
const config = readJson<ClassificationConfig & { n_positions: number }>(
  path.join(folder, 'config.json'),
);
const texts = new Map(
  readJson<{ texts: Array<{ id: string; text: string }> }>(
    path.join(fixturesDir, 'cases.json'),
  ).texts.map((t) => [t.id, t.text]),
);

function assertClose(actual: number, wanted: number, tolerance: number, what: string): void {
  assert.ok(Math.abs(actual - wanted) <= tolerance, `${what}: ${actual} vs ${wanted}`);
}

function assertSameScores(
  actual: Array<{ label: string; score: number }>,
  wanted: Array<{ label: string; score: number }>,
  what: string,
): void {
  assert.deepEqual(
    actual.map((s) => s.label),
    wanted.map((s) => s.label),
    `${what}: labels`,
  );
  actual.forEach((s, i) => assertClose(s.score, wanted[i].score, 1e-4, `${what} ${s.label}`));
}

describe('sequence classification (text-classification pipeline)', () => {
  it('gives HF’s labels and softmax scores, best first, from the pooled logits of every text', () => {
    assert.ok(expected.cases.length > 0);
    for (const c of expected.cases) {
      assertSameScores(classifySequence(c.logits, config), c.scores, c.id);
    }
  });

  it('names labels LABEL_i when config.json has no id2label', () => {
    const c = expected.cases[0];
    const result = classifySequence(c.logits, {});
    const byIndex = labelScores(c.logits, 'softmax');
    const wanted = byIndex
      .map((score, i) => ({ label: `LABEL_${i}`, score }))
      .sort((a, b) => b.score - a.score);
    assert.deepEqual(result, wanted);
    assert.ok(result.every((r) => /^LABEL_\d+$/.test(r.label)));
  });

  it('applies a sigmoid to a single-label head instead of a softmax', () => {
    const logit = expected.cases[0].logits[0];
    const [only] = classifySequence([logit], { id2label: { 0: 'score' } });
    assert.equal(only.label, 'score');
    assert.equal(only.score, 1 / (1 + Math.exp(-logit)));
    assert.notEqual(only.score, 1);
  });

  it('applies a sigmoid per label for multi_label_classification and none for regression', () => {
    const { logits } = expected.cases[1];
    const multi = classifySequence(logits, { problem_type: 'multi_label_classification' });
    assert.deepEqual(multi.map((m) => m.score).sort(), logits.map(sigmoid).sort());
    const regression = classifySequence(logits, { problem_type: 'regression' });
    assert.deepEqual(regression.map((r) => r.score).sort(), [...logits].sort());
  });

  it('returns only the top_k best labels when asked', () => {
    const c = expected.cases[0];
    assertSameScores(
      classifySequence(c.logits, { ...config, top_k: 1 }),
      c.scores.slice(0, 1),
      c.id,
    );
  });

  it('matches HF end to end: transformers.js ids truncated to n_positions, ONNX pooled logits, scores', async () => {
    const { AutoTokenizer, env } = await import('@huggingface/transformers');
    env.allowRemoteModels = false;
    env.localModelPath = fixturesDir + path.sep;
    const tokenizer = await AutoTokenizer.from_pretrained('gpt2-tiny-sentiment');
    const session = await ort.InferenceSession.create(path.join(folder, 'onnx', 'model.onnx'));
    try {
      for (const c of expected.cases) {
        const ids = tokenizer.encode(texts.get(c.id)!).slice(0, config.n_positions);
        assert.equal(ids.length, c.truncated_to ?? c.n_tokens, `${c.id}: token count`);
        const shape = [1, ids.length];
        const output = await session.run({
          input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), shape),
          attention_mask: new ort.Tensor('int64', new BigInt64Array(ids.length).fill(1n), shape),
        });
        const logits = Array.from(output.logits.data as Float32Array);
        logits.forEach((l, i) => assertClose(l, c.logits[i], 1e-4, `${c.id} logit ${i}`));
        assertSameScores(classifySequence(logits, config), c.scores, c.id);
      }
    } finally {
      await session.release();
    }
  });
});

describe('document classification over windows', () => {
  const [a, b] = expected.cases.map((c) => labelScores(c.logits, 'softmax'));

  it('averages label probabilities weighted by each window’s token count and reports the windows read', () => {
    const result = aggregateWindows([a, b], [3, 1], 'mean');
    assert.equal(result.windows_read, 2);
    result.scores.forEach((s, i) => assertClose(s, (3 * a[i] + b[i]) / 4, 1e-12, `label ${i}`));
    assertClose(
      result.scores.reduce((x, y) => x + y, 0),
      1,
      1e-12,
      'mean of probabilities sums to 1',
    );
  });

  it('takes each label’s highest window score with max', () => {
    const result = aggregateWindows([a, b], [3, 1], 'max');
    assert.deepEqual(
      result.scores,
      a.map((s, i) => Math.max(s, b[i])),
    );
  });

  it('equals the single-text result for a document of one window', () => {
    const c = expected.cases[0];
    const doc = classifyDocument([c.logits], [c.n_tokens], config);
    assert.equal(doc.windows_read, 1);
    assertSameScores(doc.labels, c.scores, c.id);
  });

  it('rejects mismatched windows and token counts', () => {
    assert.throws(() => aggregateWindows([a, b], [1]), RangeError);
    assert.throws(() => aggregateWindows([], []), RangeError);
  });
});
