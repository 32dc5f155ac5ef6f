// The `npm start` demo's layout: heads trained on one frozen backbone, as sharded safetensors
// checkpoints whose backbone shard is one file on disk. The host must see the common backbone.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeHeadsOnOneBackbone } from '../../../../src/host/convert/maker';
import { readCheckpointWeights } from '../../../../src/host/convert/checkpoint';
import { ModelRegistry } from '../../../../src/host/models/registry';
import { hostSettings } from '../../../support/hostProcess';

describe('heads made on one backbone', function () {
  this.timeout(120_000);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gpt2-heads-one-backbone-'));
  after(() => fs.rmSync(root, { recursive: true, force: true }));
  const folders = makeHeadsOnOneBackbone({
    size: 'tiny',
    seed: 5,
    outDir: path.join(root, 'models'),
    heads: [
      { name: 'ner', architecture: 'GPT2ForTokenClassification' },
      { name: 'sentiment', architecture: 'GPT2ForSequenceClassification', labels: ['NEG', 'POS'] },
      { name: 'qa', architecture: 'GPT2ForQuestionAnswering' },
      { name: 'lm', architecture: 'GPT2LMHeadModel' },
    ],
  });

  it('keeps the backbone on disk once: every folder links the same file', () => {
    const backbone = fs.statSync(path.join(root, 'models', 'backbone.safetensors'));
    for (const name of ['ner', 'sentiment', 'qa']) {
      const shard = fs.statSync(path.join(folders[name], 'model-00001-of-00002.safetensors'));
      assert.equal(shard.ino, backbone.ino, `${name}'s backbone shard is a link`);
      const index = JSON.parse(
        fs.readFileSync(path.join(folders[name], 'model.safetensors.index.json'), 'utf8'),
      ) as { weight_map: Record<string, string> };
      const heads = Object.entries(index.weight_map).filter(
        ([key]) => !key.startsWith('transformer.'),
      );
      assert.ok(heads.length > 0, `${name} has head weights`);
      for (const [, shard] of heads) assert.equal(shard, 'model-00002-of-00002.safetensors');
    }
    // The tied LM head has no weights of its own: its checkpoint is the backbone.
    assert.equal(fs.statSync(path.join(folders.lm, 'model.safetensors')).ino, backbone.ino);
    const ner = readCheckpointWeights(folders.ner);
    const lm = readCheckpointWeights(folders.lm);
    const [fromNer, fromLm] = [ner, lm].map((w) => w.get('transformer.h.1.mlp.c_fc.weight')!);
    assert.deepEqual(fromNer.shape, fromLm.shape);
    assert.deepEqual(fromNer.data, fromLm.data);
    assert.ok(ner.has('classifier.weight') && !lm.has('classifier.weight'));
  });

  it('loads in the host as one shared graph for the heads, and the LM on its own', async () => {
    const messages: string[] = [];
    const registry = new ModelRegistry(
      hostSettings(
        { ner: folders.ner, classification: folders.sentiment, qa: folders.qa, lm: folders.lm },
        { cacheDir: path.join(root, 'cache'), dtype: 'auto' },
      ),
      (progress) => messages.push(progress.message),
    );
    try {
      for (const role of ['ner', 'classification', 'qa'] as const) {
        await registry.use(role, async (model) => {
          assert.equal(model.info.sharedBackbone, true, `${role} runs on the shared graph`);
          assert.equal(model.info.dtype, 'q8', `${role}: auto runs the int8 graph the host built`);
        });
      }
      await registry.use('lm', async (model) => {
        assert.equal(model.info.sharedBackbone, false);
        assert.equal(model.info.format, 'safetensors');
      });
      assert.equal(
        fs.readdirSync(path.join(root, 'cache', 'shared')).length,
        1,
        'one shared graph',
      );
      // Each head checkpoint's backbone identity is remembered: a later start reads no weights.
      assert.equal(fs.readdirSync(path.join(root, 'cache', 'backbones')).length, 3);
      // Local files are read, not downloaded: the progress a new user sees must not say otherwise.
      assert.ok(
        messages.some((message) => /^Reading /.test(message)),
        messages.join('\n'),
      );
      assert.ok(!messages.some((message) => /Downloading/.test(message)), messages.join('\n'));
    } finally {
      await registry.dispose();
    }
  });
});
