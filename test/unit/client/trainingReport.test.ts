import * as assert from 'node:assert/strict';
import { evaluate } from '../../../src/heads/trainingMetrics';
import { reportMarkdown } from '../../../src/client/trainingReport';
import type { TrainingReport } from '../../../src/protocol';

function report(labels: string[], gold: number[], predicted: number[]): TrainingReport {
  const sentences = [gold.length];
  return {
    task: 'token-classification',
    architecture: 'GPT2ForTokenClassification',
    backbone: '/models/gpt2',
    train_file: '/data/train.conll',
    validation_file: null,
    validation_split: 0.1,
    labels,
    examples: { train: 9, validation: 1 },
    rows: { train: 90, validation: gold.length },
    options: {
      optimizer: 'lbfgs',
      epochs: 10,
      learning_rate: 0.01,
      batch_size: 32,
      l2: 1e-4,
      class_weights: 'none',
      seed: 42,
      patience: 3,
    },
    validation_metric: 'entity_f1',
    history: [{ epoch: 1, loss: 0.5, validation_score: 0.5 }],
    best_epoch: 1,
    validation: evaluate(gold, predicted, labels, sentences),
    baseline: {
      label: labels[0],
      validation: evaluate(
        gold,
        gold.map(() => 0),
        labels,
        sentences,
      ),
    },
    timing: {
      feature_seconds: 1,
      features_cached: false,
      tokens: 12,
      tokens_per_second: 12,
      training_seconds: 0.5,
    },
  };
}

describe('training report view', () => {
  it('shows the scores against the baseline, entity scores and the confusion matrix', () => {
    const markdown = reportMarkdown(
      report(['O', 'B-PER', 'I-PER'], [1, 2, 0, 0], [1, 2, 0, 1]),
      '/models/ner',
    );
    assert.match(markdown, /\| accuracy \| 75\.0% \| 50\.0% \|/);
    assert.match(markdown, /\| entity F1 \| 66\.7% \| 0\.0% \|/);
    assert.match(markdown, /## Confusion matrix/);
    // Gold O: predicted O once, B-PER once.
    assert.match(markdown, /\| \*\*O\*\* \| \*\*1\*\* \| 1 \| 0 \|/);
    assert.match(markdown, /\| PER \| 50\.0% \| 100\.0% \| 66\.7% \| 1 \|/);
  });

  it('shows labels from the data as literal text', () => {
    const markdown = reportMarkdown(report(['O', 'a|b', '[x](y)'], [0, 1, 2], [0, 1, 2]), '/m');
    assert.ok(markdown.includes('a\\|b'));
    assert.ok(markdown.includes('\\[x\\]\\(y\\)'));
    assert.ok(!markdown.includes('## Entities'));
  });
});
