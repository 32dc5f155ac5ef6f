// Training a head in the host's code (in process): features through the project's own graph,
// the onnxruntime probe engine, the saved Hugging Face folder and its report.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuEngine, rowWeights, seededRandom } from '../../../../src/heads/linearProbe';
import { CancelledError, HostError, neverCancelled } from '../../../../src/host/errors';
import { makeRandomModel } from '../../../../src/host/convert/maker';
import { readSafetensors } from '../../../../src/host/convert/safetensors';
import {
  batchWindows,
  pooledIndex,
  textWindows,
  wordWindows,
} from '../../../../src/host/tasks/training/features';
import { onnxProbeEngine } from '../../../../src/host/tasks/training/probeEngine';
import { trainHead } from '../../../../src/host/tasks/training/train';
import type { TrainParams, TrainingReport } from '../../../../src/protocol';
import { fixturesDir, repoRoot } from '../../../support/fixtures';
import { writeSyntheticTextsCsv, writeSyntheticTokensJsonl } from '../../../support/trainingData';

const base = join(fixturesDir, 'gpt2-tiny-base');
const samples = join(repoRoot, 'test', 'fixtures', 'training');

describe('training a head (host tasks)', function () {
  this.timeout(120_000);
  const scratch = mkdtempSync(join(tmpdir(), 'gpt2-heads-training-'));
  const settings = { cacheDir: join(scratch, 'cache'), offline: true, threads: 1 };
  const tokensFile = join(scratch, 'classes.jsonl');
  const textsFile = join(scratch, 'texts.csv');
  // A backbone the project makes (HF's initialisation, saved as safetensors); the CoNLL samples
  // below run on the reference fixture's ONNX export instead.
  const generated = join(scratch, 'backbone');
  before(() => {
    makeRandomModel({
      architecture: 'GPT2Model',
      size: 'tiny',
      seed: 5,
      outDir: generated,
      safetensors: true,
    });
    writeSyntheticTokensJsonl(tokensFile, 200, 1);
    writeSyntheticTextsCsv(textsFile, 240, 2);
  });

  const train = (params: Partial<TrainParams> & { out: string }) =>
    trainHead(
      { task: 'token-classification', model: generated, train: tokensFile, ...params },
      settings,
      neverCancelled,
    );

  it('learns a property of the words far above the majority label and saves a Hugging Face folder', async () => {
    const out = join(scratch, 'classes');
    const { report, folder } = await train({ out });
    assert.equal(folder, out);
    assert.deepEqual(report.labels, ['O', 'ANIMAL', 'COLOR', 'NUMBER']);
    assert.equal(report.validation_split, 0.1);
    assert.equal(report.examples.validation, 20);
    const { accuracy } = report.validation;
    assert.ok(accuracy > report.baseline.validation.accuracy + 0.3, `accuracy ${accuracy}`);
    assert.deepEqual(readdirSync(out).sort(), [
      'config.json',
      'model.safetensors',
      'special_tokens_map.json',
      'tokenizer.json',
      'tokenizer_config.json',
      'training_report.json',
    ]);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    assert.deepEqual(config.architectures, ['GPT2ForTokenClassification']);
    assert.deepEqual(config.id2label, { 0: 'O', 1: 'ANIMAL', 2: 'COLOR', 3: 'NUMBER' });
    assert.deepEqual(config.label2id, { O: 0, ANIMAL: 1, COLOR: 2, NUMBER: 3 });
    const { tensors } = readSafetensors(join(out, 'model.safetensors'));
    assert.deepEqual(tensors.get('classifier.weight')?.shape, [4, 32]);
    assert.deepEqual(tensors.get('classifier.bias')?.shape, [4]);
    assert.ok(
      tensors.has('transformer.wte.weight') && tensors.has('transformer.h.1.mlp.c_proj.bias'),
    );
    const written = JSON.parse(
      readFileSync(join(out, 'training_report.json'), 'utf8'),
    ) as TrainingReport;
    assert.deepEqual(written.validation.confusion, report.validation.confusion);
    assert.ok(!readdirSync(scratch).some((name) => name.includes('partial')));
  });

  it('gives byte-identical weights for the same seed', async () => {
    const a = await train({ out: join(scratch, 'seed-a'), seed: 9, epochs: 3 });
    const b = await train({ out: join(scratch, 'seed-b'), seed: 9, epochs: 3 });
    const bytes = (dir: string) => readFileSync(join(dir, 'model.safetensors'));
    assert.ok(bytes(a.folder).equals(bytes(b.folder)));
    assert.deepEqual(a.report.history, b.report.history);
    assert.ok(b.report.timing.features_cached, 'the second run reuses the features');
    const kept = readdirSync(join(settings.cacheDir, 'training-features'));
    assert.ok(
      kept.some((name) => name.endsWith('.f32')),
      'features are kept on disk',
    );
  });

  it('trains a bias-free sequence classifier (score.weight) from CSV texts', async () => {
    const out = join(scratch, 'texts');
    const { report } = await train({ task: 'text-classification', train: textsFile, out });
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    assert.deepEqual(config.architectures, ['GPT2ForSequenceClassification']);
    assert.equal(config.pad_token_id, 50256);
    const { tensors } = readSafetensors(join(out, 'model.safetensors'));
    assert.deepEqual(tensors.get('score.weight')?.shape, [3, 32]);
    assert.ok(!tensors.has('score.bias'));
    const { accuracy } = report.validation;
    assert.ok(accuracy > report.baseline.validation.accuracy + 0.25, `accuracy ${accuracy}`);
  });

  it('tags the hand-made CoNLL-U sample (UPOS) far better than the majority tag', async () => {
    const { report } = await train({
      model: base,
      train: join(samples, 'pos-train.conllu'),
      validation: join(samples, 'pos-dev.conllu'),
      out: join(scratch, 'pos'),
    });
    assert.equal(report.validation_metric, 'accuracy');
    const { accuracy } = report.validation;
    assert.ok(accuracy > report.baseline.validation.accuracy + 0.2, `accuracy ${accuracy}`);
  });

  it('finds entities of the hand-made CoNLL-2003 sample, scored as seqeval does', async () => {
    const { report } = await train({
      model: base,
      train: join(samples, 'ner-train.conll'),
      validation: join(samples, 'ner-dev.conll'),
      out: join(scratch, 'ner'),
    });
    assert.equal(report.validation_metric, 'entity_f1');
    assert.equal(report.baseline.label, 'O');
    assert.equal(report.baseline.validation.entities?.f1, 0);
    const f1 = report.validation.entities?.f1 ?? 0;
    assert.ok(f1 > 0.4, `entity F1 ${f1}`);
    assert.deepEqual(
      report.validation.entities?.types.map((t) => t.label),
      ['LOC', 'MISC', 'ORG', 'PER'],
    );
  });

  it('writes nothing when a line is malformed, and names the file and line', async () => {
    const bad = join(scratch, 'bad.conll');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(bad, 'EU NNP B-ORG\nrejects VBZ O\n\nGerman\n');
    const out = join(scratch, 'never');
    await assert.rejects(train({ train: bad, out }), (error: unknown) => {
      assert.ok(error instanceof HostError);
      assert.match(error.message, new RegExp(`^${bad.replace(/[.\\/]/g, '\\$&')}:4: `));
      return true;
    });
    assert.ok(!existsSync(out));
  });

  it('leaves no folder when cancelled during feature extraction or training', async () => {
    for (const [i, phase] of (['features', 'training'] as const).entries()) {
      const out = join(scratch, `cancelled-${phase}`);
      // Data of its own, so its features are extracted (not found in the cache).
      const data = join(scratch, `cancel-${phase}.jsonl`);
      writeSyntheticTokensJsonl(data, 150, 100 + i);
      const token = { isCancellationRequested: false };
      await assert.rejects(
        trainHead(
          { task: 'token-classification', model: generated, train: data, out, seed: 77 },
          settings,
          token,
          (progress) => {
            if (progress.phase === phase) token.isCancellationRequested = true;
          },
        ),
        CancelledError,
      );
      assert.ok(!existsSync(out), phase);
      assert.ok(!readdirSync(scratch).some((name) => name.includes('partial')));
    }
  });

  it('refuses a non-empty output folder before training', async () => {
    await assert.rejects(train({ out: join(scratch, 'classes') }), /is not empty/);
  });

  it('computes in onnxruntime the same loss, gradient and predictions as the TypeScript engine', async () => {
    const random = seededRandom(4);
    const [rows, dim, labels] = [300, 24, 5];
    const data = {
      features: Float32Array.from({ length: rows * dim }, () => random() * 4 - 2),
      dim,
      targets: Int32Array.from({ length: rows }, () => Math.floor(random() * labels)),
      labels,
    };
    const all = Int32Array.from({ length: rows }, (_, i) => i);
    const weights = rowWeights(data.targets, all, labels, 'balanced');
    const w = Float32Array.from({ length: labels * dim }, () => random() - 0.5);
    const b = Float32Array.from({ length: labels }, () => random() - 0.5);
    const some = all.filter((i) => i % 3 !== 0);
    const onnx = await onnxProbeEngine(labels, dim, 1);
    try {
      const engines = [cpuEngine(data, weights), onnx.engine(data, weights)];
      const results = await Promise.all(
        engines.map(async (engine) => {
          const gradW = new Float32Array(labels * dim);
          const gradB = new Float32Array(labels);
          const loss = await engine.lossAndGradient(some, w, b, gradW, gradB);
          return { loss, gradW, gradB, predicted: await engine.predict(some, w, b) };
        }),
      );
      const [ts, ort] = results;
      assert.ok(Math.abs(ts.loss - ort.loss) < 1e-3 * ts.loss);
      ts.gradW.forEach((g, i) => assert.ok(Math.abs(g - ort.gradW[i]) < 1e-3, `gradW ${i}`));
      ts.gradB.forEach((g, i) => assert.ok(Math.abs(g - ort.gradB[i]) < 1e-3, `gradB ${i}`));
      assert.deepEqual(ts.predicted, ort.predicted);
    } finally {
      await onnx.release();
    }
  });
});

describe('training feature windows', () => {
  it('reads a sentence longer than the context in the editor windows, one row per word', () => {
    // 300 words of two tokens each, then a short sentence: 600 + 4 tokens, context 128.
    const long = {
      ids: Array.from({ length: 600 }, (_, i) => i),
      firstTokens: Array.from({ length: 300 }, (_, w) => 2 * w),
    };
    const short = { ids: [7, 8, 9, 10], firstTokens: [0, 1, 3] };
    const { windows, rows } = wordWindows([long, short], 128);
    assert.equal(rows, 303);
    assert.ok(windows.every((w) => w.ids.length <= 128 && w.positions.length === w.rows.length));
    const seen = windows.flatMap((w) => w.rows).sort((a, b) => a - b);
    assert.deepEqual(
      seen,
      Array.from({ length: 303 }, (_, i) => i),
    );
    for (const window of windows.slice(0, -1)) {
      // The row of word w sits at token 2w of the long sentence.
      window.positions.forEach((position, i) => {
        assert.equal(window.ids[position], 2 * window.rows[i]);
      });
    }
    const last = windows[windows.length - 1];
    assert.deepEqual(last, { ids: [7, 8, 9, 10], positions: [0, 1, 3], rows: [300, 301, 302] });
  });

  it('pools a text at its last non-pad token and truncates it to the context', () => {
    assert.equal(pooledIndex([5, 6, 50256], 50256), 1);
    assert.equal(pooledIndex([50256], 50256), 0);
    const { windows } = textWindows([Array.from({ length: 200 }, (_, i) => i + 1)], 128, 50256);
    assert.equal(windows[0].ids.length, 128);
    assert.deepEqual(windows[0].positions, [127]);
  });

  it('batches windows of similar length within the padded-token budget', () => {
    const window = (length: number) => ({
      ids: new Array<number>(length).fill(1),
      positions: [0],
      rows: [0],
    });
    const batches = batchWindows([window(10), window(100), window(12), window(90)], 200);
    assert.deepEqual(
      batches.map((b) => b.map((w) => w.ids.length)),
      [
        [10, 12],
        [90, 100],
      ],
    );
  });
});
