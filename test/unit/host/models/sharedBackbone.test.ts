// NER, POS and sentiment checkpoints fine-tuned on one backbone run as one graph: the results
// are Hugging Face's, and one forward pass per window serves every head.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classifyText } from '../../../../src/host/tasks/classification';
import { neverCancelled } from '../../../../src/host/errors';
import { ModelRegistry } from '../../../../src/host/models/registry';
import * as shared from '../../../../src/host/models/sharedBackbone';
import { tagText, toSpan } from '../../../../src/host/tasks/tagging';
import { checkpointFrom } from '../../../support/exportedHeads';
import { hostSettings } from '../../../support/hostProcess';
import { fixturesDir } from '../../../support/fixtures';

describe('heads that share a backbone', function () {
  this.timeout(120_000);
  const root = mkdtempSync(join(tmpdir(), 'gpt2-heads-shared-'));
  const ner = join(fixturesDir, 'safetensors', 'gpt2-tiny-ner');
  const pos = checkpointFrom('gpt2-tiny-pos', 'classifier.weight', root);
  const sentiment = checkpointFrom('gpt2-tiny-sentiment', 'score.weight', root);
  const registry = new ModelRegistry(
    hostSettings(
      { ner, pos, classification: sentiment },
      { cacheDir: join(root, 'cache'), dtype: 'fp32' },
    ),
  );
  after(() => registry.dispose());
  const texts = (
    JSON.parse(readFileSync(join(fixturesDir, 'cases.json'), 'utf8')) as {
      texts: { id: string; text: string }[];
    }
  ).texts;

  it("run in one graph and still give Hugging Face's entities, tags and labels", async () => {
    for (const [role, name] of [
      ['ner', 'gpt2-tiny-ner'],
      ['pos', 'gpt2-tiny-pos'],
    ] as const) {
      const expected = JSON.parse(
        readFileSync(join(fixturesDir, name, 'expected.json'), 'utf8'),
      ) as {
        cases: {
          id: string;
          results: {
            simple: {
              entity_group: string;
              start_utf16: number;
              end_utf16: number;
              score: number;
            }[];
          };
        }[];
      };
      await registry.use(role, async (model) => {
        assert.equal(model.info.sharedBackbone, true, `${role} shares the backbone`);
        for (const entry of expected.cases.slice(0, 8)) {
          const text = texts.find((t) => t.id === entry.id)!.text;
          const result = await tagText(
            model,
            text,
            { aggregation_strategy: 'simple' },
            neverCancelled,
          );
          const spans = result.entities.map(toSpan);
          assert.deepEqual(
            spans.map((s) => [s.label, s.start, s.end]),
            entry.results.simple.map((e) => [e.entity_group, e.start_utf16, e.end_utf16]),
            `${role} ${entry.id}`,
          );
          spans.forEach((s, i) =>
            assert.ok(Math.abs(s.score - entry.results.simple[i].score) < 1e-4),
          );
        }
      });
    }
    const sentimentExpected = JSON.parse(
      readFileSync(join(fixturesDir, 'gpt2-tiny-sentiment', 'expected.json'), 'utf8'),
    ) as {
      cases: { id: string; scores: { label: string; score: number }[] }[];
    };
    await registry.use('classification', async (model) => {
      assert.equal(model.info.sharedBackbone, true);
      const entry = sentimentExpected.cases[0];
      const result = await classifyText(model, texts.find((t) => t.id === entry.id)!.text);
      assert.equal(result.labels[0].label, entry.scores[0].label);
      assert.ok(Math.abs(result.labels[0].score - entry.scores[0].score) < 1e-4);
    });
  });

  it('serve NER and POS of the same text with one forward pass', async () => {
    const text = 'Ada Lovelace met Charles Babbage in London in 1833.';
    const before = shared.sharedForwardPasses;
    await registry.use('ner', (model) =>
      tagText(model, text, { aggregation_strategy: 'simple' }, neverCancelled),
    );
    await registry.use('pos', (model) =>
      tagText(model, text, { aggregation_strategy: 'simple' }, neverCancelled),
    );
    assert.equal(shared.sharedForwardPasses - before, 1);
  });

  it('load separately when their backbones differ', async () => {
    const other = new ModelRegistry(
      hostSettings(
        { ner, lm: join(fixturesDir, 'gpt2-tiny-lm') },
        { cacheDir: join(root, 'cache2') },
      ),
    );
    await other.use('ner', async (model) => assert.equal(model.info.sharedBackbone, false));
    await other.dispose();
  });

  it('regroup a head loaded alone when a head sharing its backbone is configured later', async () => {
    const settings = { cacheDir: join(root, 'cache3'), dtype: 'fp32' as const };
    const later = new ModelRegistry(hostSettings({ ner }, settings));
    try {
      await later.use('ner', async (model) => assert.equal(model.info.sharedBackbone, false));
      later.configure(hostSettings({ ner, pos }, settings));
      await later.use('ner', async (model) => assert.equal(model.info.sharedBackbone, true));
      await later.use('pos', async (model) => assert.equal(model.info.sharedBackbone, true));
      // One model entry per head, no NER left over from before on its own backbone.
      assert.deepEqual(
        later.status().map((info) => [info.roles, info.sharedBackbone]),
        [
          [['ner'], true],
          [['pos'], true],
        ],
      );
    } finally {
      await later.dispose();
    }
  });
});
