// Training through the real model host (forked, spoken to over LSP as the extension does): the
// progress it streams, cancellation, and the saved folder loaded back as a head that predicts
// what the head predicted during validation.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CancellationTokenSource, ResponseError } from 'vscode-jsonrpc/node';
import { splitIndices } from '../../src/heads/linearProbe';
import { makeRandomModel } from '../../src/host/convert/maker';
import { readLabelledFile } from '../../src/host/tasks/training/train';
import { methods, trainProgress, type TrainProgress, type TrainResult } from '../../src/protocol';
import { prefixedText } from '../../src/text/wordTokens';
import { hostSettings, startHost, type HostProcess } from '../support/hostProcess';
import { repoRoot } from '../support/fixtures';
import { writeSyntheticTextsCsv, writeSyntheticTokensJsonl } from '../support/trainingData';

describe('training in the model host', function () {
  this.timeout(120_000);
  const scratch = mkdtempSync(join(tmpdir(), 'gpt2-heads-host-training-'));
  const backbone = join(scratch, 'backbone');
  const tokensFile = join(scratch, 'classes.jsonl');
  const validationFile = join(scratch, 'classes-dev.jsonl');
  const textsFile = join(scratch, 'texts.csv');
  let host: HostProcess;

  before(async () => {
    makeRandomModel({
      architecture: 'GPT2Model',
      size: 'tiny',
      seed: 5,
      outDir: backbone,
      safetensors: true,
    });
    writeSyntheticTokensJsonl(tokensFile, 200, 1);
    writeSyntheticTokensJsonl(validationFile, 30, 3);
    writeSyntheticTextsCsv(textsFile, 200, 2);
    host = await startHost(repoRoot, hostSettings({}, { cacheDir: join(scratch, 'cache') }));
  });
  after(() => host.stop());

  async function train(
    params: {
      task: 'token-classification' | 'text-classification';
      train: string;
      out: string;
      validation?: string;
    },
    onProgress: (progress: TrainProgress) => void = () => undefined,
    token?: CancellationTokenSource,
  ): Promise<TrainResult> {
    const progressToken = `train-${Date.now()}-${Math.random()}`;
    const listener = host.connection.onProgress(trainProgress, progressToken, onProgress);
    try {
      return await host.connection.sendRequest(
        methods.train,
        { model: backbone, includePredictions: true, partialResultToken: progressToken, ...params },
        token?.token,
      );
    } finally {
      listener.dispose();
    }
  }

  it('streams progress and saves a token classifier that tags as it did during validation', async () => {
    const out = join(scratch, 'tagger');
    const seen: TrainProgress[] = [];
    const result = await train(
      { task: 'token-classification', train: tokensFile, validation: validationFile, out },
      (progress) => seen.push(progress),
    );
    const features = seen.filter((p) => p.phase === 'features');
    assert.ok(features.length > 0 && features.every((p) => (p.tokensPerSecond ?? 0) > 0));
    assert.ok(features.every((p) => p.etaSeconds !== undefined));
    const epochs = seen.filter((p) => p.phase === 'training');
    assert.ok(epochs.length > 0);
    assert.ok(epochs.every((p) => p.loss !== undefined && p.validationScore !== undefined));
    assert.equal(result.folder, out);

    host.connection.sendNotification(
      methods.configure,
      hostSettings({ pos: out }, { cacheDir: join(scratch, 'cache') }),
    );
    const sentences = readLabelledFile(validationFile, {});
    assert.equal(sentences.kind, 'words');
    const predictions = result.validationPredictions!;
    let compared = 0;
    for (const [s, sentence] of sentences.examples.entries()) {
      if (!('words' in sentence)) continue;
      const text = prefixedText(sentence.words);
      const tagged = await host.connection.sendRequest(methods.tag, {
        role: 'pos',
        text,
        aggregation_strategy: 'none',
        ignore_labels: [],
      });
      let start = 0;
      sentence.words.forEach((word, w) => {
        start = text.indexOf(word, start);
        // The word's first token: the one that covers its first character.
        const span = tagged.spans.find((t) => t.start <= start && start < t.end);
        assert.equal(span?.label, predictions[s][w], `sentence ${s}, word ${w} "${word}"`);
        start += word.length;
        compared++;
      });
    }
    assert.equal(compared, result.report.rows.validation);
  });

  it('runs a second head trained on the same backbone in one shared graph with the first', async () => {
    const out = join(scratch, 'tagger-2');
    await train({ task: 'token-classification', train: validationFile, out });
    // The first head was loaded alone above; unload it so both load as one group.
    host.connection.sendNotification(
      methods.configure,
      hostSettings({}, { cacheDir: join(scratch, 'cache') }),
    );
    host.connection.sendNotification(
      methods.configure,
      hostSettings(
        { pos: join(scratch, 'tagger'), ner: out },
        { cacheDir: join(scratch, 'cache') },
      ),
    );
    for (const role of ['pos', 'ner'] as const) {
      await host.connection.sendRequest(methods.tag, {
        role,
        text: ' the red cat',
        aggregation_strategy: 'first',
      });
    }
    const status = await host.connection.sendRequest(methods.status);
    const trained = status.models.filter((m) => m.roles.includes('pos') || m.roles.includes('ner'));
    assert.equal(trained.length, 2);
    assert.ok(
      trained.every((m) => m.sharedBackbone),
      JSON.stringify(trained),
    );
  });

  it('saves a text classifier that classifies as it did during validation', async () => {
    const out = join(scratch, 'classifier');
    const result = await train({ task: 'text-classification', train: textsFile, out });
    assert.equal(result.report.architecture, 'GPT2ForSequenceClassification');
    host.connection.sendNotification(
      methods.configure,
      hostSettings({ classification: out }, { cacheDir: join(scratch, 'cache') }),
    );
    const texts = readLabelledFile(textsFile, {});
    // No validation file: the seeded held-out split, in example order, as the host made it.
    const held = result.validationPredictions!;
    const split = splitIndices(texts.examples.length, 0.1, result.report.options.seed);
    assert.equal(held.length, split.validation.length);
    for (const [i, index] of split.validation.entries()) {
      const example = texts.examples[index];
      assert.ok('text' in example);
      const classified = await host.connection.sendRequest(methods.classify, {
        text: example.text,
        scope: 'sequence',
      });
      assert.equal(classified.labels[0].label, held[i][0], example.text);
    }
  });

  it('stops when cancelled and leaves no folder', async () => {
    const out = join(scratch, 'cancelled');
    const source = new CancellationTokenSource();
    await assert.rejects(
      train(
        { task: 'token-classification', train: tokensFile, out },
        (progress) => {
          if (progress.phase === 'training') source.cancel();
        },
        source,
      ),
      (error: unknown) => error instanceof ResponseError && /cancelled/i.test(error.message),
    );
    assert.ok(!existsSync(out));
    assert.ok(!readdirSync(scratch).some((name) => name.includes('partial')));
  });

  it('answers a malformed file with its name and line, and writes nothing', async () => {
    const out = join(scratch, 'never');
    const bad = join(repoRoot, 'package.json');
    await assert.rejects(
      host.connection.sendRequest(methods.train, {
        task: 'text-classification',
        model: backbone,
        train: bad,
        format: 'jsonl',
        out,
      }),
      (error: unknown) =>
        error instanceof ResponseError && error.message.startsWith(`${bad}:1: not valid JSON`),
    );
    assert.ok(!existsSync(out));
  });
});
