import * as assert from 'node:assert/strict';
import {
  cpuEngine,
  defaultProbeOptions,
  rowWeights,
  seededRandom,
  splitIndices,
  trainProbe,
  type ProbeData,
  type ProbeOptions,
} from '../../../src/heads/linearProbe';
import {
  entityMetrics,
  evaluate,
  iob2Entities,
  isIobLabelSet,
  majorityLabel,
} from '../../../src/heads/trainingMetrics';

/** Gaussian blobs: class c is centred on a random point, with an offset and scale per feature. */
function blobs(rows: number, dim: number, labels: number, seed: number): ProbeData {
  const random = seededRandom(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const centres = Array.from({ length: labels }, () => Array.from({ length: dim }, normal));
  const features = new Float32Array(rows * dim);
  const targets = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    // Imbalanced classes, so the majority baseline is not trivial.
    const c = random() < 0.5 ? 0 : 1 + Math.floor(random() * (labels - 1));
    targets[r] = c;
    for (let j = 0; j < dim; j++) {
      // Features on very different scales, as GPT-2's hidden states are.
      const scale = j % 5 === 0 ? 100 : 1;
      features[r * dim + j] = scale * (centres[c][j] + 0.8 * normal()) + 3 * j;
    }
  }
  return { features, dim, targets, labels };
}

const accuracy = (gold: Int32Array, rows: Int32Array) => (predicted: Int32Array) =>
  predicted.reduce((n, p, i) => n + (p === gold[rows[i]] ? 1 : 0), 0) / predicted.length;

async function fit(data: ProbeData, options: Partial<ProbeOptions> = {}) {
  const split = splitIndices(data.targets.length, 0.2, 3);
  const trainRows = Int32Array.from(split.train);
  const validationRows = Int32Array.from(split.validation);
  const result = await trainProbe(
    { data, trainRows, validationRows, score: accuracy(data.targets, validationRows) },
    { ...defaultProbeOptions, ...options },
  );
  return { result, validationRows };
}

describe('linear probe', () => {
  it('computes the cross-entropy gradient that finite differences give', async () => {
    const data = blobs(20, 6, 3, 1);
    const rows = Int32Array.from({ length: 20 }, (_, i) => i);
    const weights = rowWeights(data.targets, rows, 3, 'balanced');
    const engine = cpuEngine(data, weights);
    const random = seededRandom(2);
    const w = Float32Array.from({ length: 18 }, () => (random() - 0.5) * 0.1);
    const b = Float32Array.of(0.1, -0.2, 0.05);
    const gradW = new Float32Array(18);
    const gradB = new Float32Array(3);
    await engine.lossAndGradient(rows, w, b, gradW, gradB);
    const h = 1e-3;
    for (const i of [0, 5, 11, 17]) {
      const plus = Float32Array.from(w);
      const minus = Float32Array.from(w);
      plus[i] += h;
      minus[i] -= h;
      const scratch = new Float32Array(18);
      const lp = await engine.lossAndGradient(rows, plus, b, scratch, undefined);
      const lm = await engine.lossAndGradient(rows, minus, b, scratch, undefined);
      assert.ok(Math.abs((lp - lm) / (2 * h) - gradW[i]) < 1e-2 * Math.max(1, Math.abs(gradW[i])));
    }
  });

  for (const optimizer of ['adam', 'lbfgs'] as const) {
    it(`learns separable classes far above the majority label with ${optimizer}`, async () => {
      const data = blobs(600, 12, 4, 7);
      const { result, validationRows } = await fit(data, { optimizer, epochs: 20 });
      const majority = majorityLabel(data.targets, 4);
      const baseline = accuracy(
        data.targets,
        validationRows,
      )(new Int32Array(validationRows.length).fill(majority));
      assert.ok(result.bestScore > 0.95, `accuracy ${result.bestScore}`);
      assert.ok(baseline < 0.6, `baseline ${baseline}`);
      assert.ok(result.history.length >= 1);
    });
  }

  it('gives identical weights for the same seed and different ones for another seed', async () => {
    const data = blobs(300, 8, 3, 11);
    // Adam: the seed orders the mini-batches (L-BFGS's full batches do not depend on it).
    const a = await fit(data, { optimizer: 'adam', batchSize: 32, seed: 5, epochs: 3 });
    const b = await fit(data, { optimizer: 'adam', batchSize: 32, seed: 5, epochs: 3 });
    const c = await fit(data, { optimizer: 'adam', batchSize: 32, seed: 6, epochs: 3 });
    assert.deepEqual(a.result.head.weight, b.result.head.weight);
    assert.deepEqual(a.result.head.bias, b.result.head.bias);
    assert.notDeepEqual(a.result.head.weight, c.result.head.weight);
  });

  it('has no bias when asked (sequence classification scores) and learns as well as with one', async () => {
    // Features far from the origin: without a bias the head must use their mean direction.
    const data = blobs(400, 10, 3, 13);
    const withBias = await fit(data, { optimizer: 'lbfgs', epochs: 15 });
    const { result } = await fit(data, { optimizer: 'lbfgs', bias: false, epochs: 15 });
    assert.equal(result.head.bias, undefined);
    assert.ok(result.bestScore >= withBias.result.bestScore - 0.03, `accuracy ${result.bestScore}`);
    assert.ok(result.bestScore > 0.8, `accuracy ${result.bestScore}`);
  });

  it('stops after `patience` epochs without a better validation score and keeps the best', async () => {
    const data = blobs(200, 6, 3, 17);
    const split = splitIndices(200, 0.2, 1);
    let calls = 0;
    const result = await trainProbe(
      {
        data,
        trainRows: Int32Array.from(split.train),
        validationRows: Int32Array.from(split.validation),
        // A score that only gets worse: the first epoch stays the best.
        score: () => -calls++,
      },
      { ...defaultProbeOptions, epochs: 20, patience: 2 },
    );
    assert.equal(result.history.length, 3);
    assert.equal(result.bestEpoch, 1);
  });

  it('stops when the epoch callback throws (cancellation)', async () => {
    const data = blobs(100, 4, 2, 19);
    const split = splitIndices(100, 0.2, 1);
    await assert.rejects(
      trainProbe({
        data,
        trainRows: Int32Array.from(split.train),
        validationRows: Int32Array.from(split.validation),
        score: () => 0,
        onEpoch: () => {
          throw new Error('cancelled');
        },
      }),
      /cancelled/,
    );
  });

  it('holds out a seeded share of the examples', () => {
    const a = splitIndices(50, 0.1, 1);
    assert.equal(a.validation.length, 5);
    assert.equal(a.train.length, 45);
    assert.deepEqual(splitIndices(50, 0.1, 1), a);
    assert.notDeepEqual(splitIndices(50, 0.1, 2).validation, a.validation);
    assert.deepEqual(
      [...a.train, ...a.validation].sort((x, y) => x - y),
      [...Array(50).keys()],
    );
  });
});

describe('training metrics', () => {
  it('reads entities in strict IOB2: an I- without its B- belongs to no entity', () => {
    assert.deepEqual(iob2Entities(['B-PER', 'I-PER', 'O', 'I-LOC', 'B-LOC', 'I-ORG']), [
      { type: 'PER', start: 0, end: 2 },
      { type: 'LOC', start: 4, end: 5 },
    ]);
  });

  it("scores entities as seqeval's strict mode does", () => {
    // seqeval.metrics.classification_report(y_true, y_pred, mode='strict', scheme=IOB2):
    // PER p=1/1 r=1/2; LOC p=0/1 r=0/1; micro p=1/2 r=1/3 f1=0.4.
    const gold = [['B-PER', 'I-PER', 'O', 'B-LOC'], ['B-PER']];
    const predicted = [['B-PER', 'I-PER', 'O', 'I-LOC'], ['B-LOC']];
    const metrics = entityMetrics(gold, predicted);
    assert.equal(metrics.precision, 1 / 2);
    assert.equal(metrics.recall, 1 / 3);
    assert.ok(Math.abs(metrics.f1 - 0.4) < 1e-12);
    assert.deepEqual(
      metrics.types.map((t) => [t.label, t.precision, t.recall, t.support]),
      [
        ['LOC', 0, 0, 1],
        ['PER', 1, 0.5, 2],
      ],
    );
  });

  it('gives accuracy, per-label scores and the confusion matrix', () => {
    const result = evaluate([0, 0, 1, 2], [0, 1, 1, 0], ['A', 'B', 'C']);
    assert.equal(result.accuracy, 0.5);
    assert.deepEqual(result.confusion, [
      [1, 1, 0],
      [0, 1, 0],
      [1, 0, 0],
    ]);
    assert.deepEqual(
      result.labels.map((l) => [l.label, l.precision, l.recall, l.support]),
      [
        ['A', 0.5, 0.5, 2],
        ['B', 0.5, 1, 1],
        ['C', 0, 0, 1],
      ],
    );
    assert.equal(result.entities, undefined);
    assert.ok(isIobLabelSet(['O', 'B-X', 'I-X']));
    assert.ok(!isIobLabelSet(['NOUN', 'VERB']));
  });
});
