// The Hub path, end to end, against a Hub stand-in on loopback (HF_ENDPOINT): an ONNX repository
// loads through transformers.js, a safetensors-only repository is downloaded and converted, and
// both load offline afterwards from the cache.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { neverCancelled } from '../../../../src/host/errors';
import { generate } from '../../../../src/host/tasks/generation';
import { ModelRegistry } from '../../../../src/host/models/registry';
import { tagText, toSpan } from '../../../../src/host/tasks/tagging';
import type { LoadProgress } from '../../../../src/protocol';
import { hostSettings } from '../../../support/hostProcess';
import { startHubStandIn, type HubStandIn } from '../../../support/hubStandIn';
import { fixturesDir, zooDir } from '../../../support/fixtures';
import { answer } from '../../../../src/host/tasks/questionAnswering';

const repos: Record<string, string> = {
  'test-org/tiny-lm-onnx': join(fixturesDir, 'gpt2-tiny-lm'),
  'test-org/tiny-ner-safetensors': join(fixturesDir, 'safetensors', 'gpt2-tiny-ner'),
  // Only pytorch_model.bin (and expected.json, which the host never asks for).
  'test-org/qa-bin-only': join(zooDir, 'qa-bin-only'),
};

describe('models from the Hub (a stand-in on loopback)', function () {
  this.timeout(120_000);
  let hub: HubStandIn;
  let requests: string[] = [];
  const cacheDir = mkdtempSync(join(tmpdir(), 'gpt2-heads-hub-'));
  const previousEndpoint = process.env.HF_ENDPOINT;

  before(async () => {
    hub = await startHubStandIn(repos);
    requests = hub.requests;
    process.env.HF_ENDPOINT = hub.url;
  });
  after(async () => {
    if (previousEndpoint === undefined) delete process.env.HF_ENDPOINT;
    else process.env.HF_ENDPOINT = previousEndpoint;
    await hub.close();
  });

  it("loads an ONNX repository through transformers.js and generates HF's greedy tokens", async () => {
    const progress: LoadProgress[] = [];
    const registry = new ModelRegistry(
      hostSettings({}, { offline: false, cacheDir, dtype: 'fp32' }),
      (p) => progress.push(p),
    );
    const model = await registry.load('test-org/tiny-lm-onnx');
    const expected = JSON.parse(
      readFileSync(join(repos['test-org/tiny-lm-onnx'], 'expected.json'), 'utf8'),
    ).generation.greedy[0];
    const result = await generate(
      model,
      { prompt: expected.prompt, options: { max_new_tokens: expected.new_ids.length } },
      neverCancelled,
    );
    assert.deepEqual(result.new_token_ids, expected.new_ids);
    assert.ok(
      progress.some((p) => /Downloading/.test(p.message)),
      'download progress was reported',
    );
    await registry.dispose();
  });

  it('downloads a safetensors-only repository, converts it, and tags as HF does', async () => {
    const registry = new ModelRegistry(hostSettings({}, { offline: false, cacheDir }));
    const model = await registry.load('test-org/tiny-ner-safetensors');
    assert.equal(model.info.format, 'safetensors');
    const text = 'Marie Curie was born in Warsaw.';
    const fromHub = await tagText(model, text, { aggregation_strategy: 'simple' }, neverCancelled);
    const local = new ModelRegistry(hostSettings({}, { cacheDir, dtype: 'fp32' }));
    const reference = await tagText(
      await local.load(join(fixturesDir, 'gpt2-tiny-ner')),
      text,
      { aggregation_strategy: 'simple' },
      neverCancelled,
    );
    assert.deepEqual(
      fromHub.entities.map(toSpan).map((s) => [s.label, s.start, s.end]),
      reference.entities.map(toSpan).map((s) => [s.label, s.start, s.end]),
    );
    assert.ok(
      !requests.some((url) => url.endsWith('pytorch_model.bin')),
      'never asks for a pickle',
    );
    await registry.dispose();
    await local.dispose();
  });

  it('downloads a repository with only pytorch_model.bin, converts it safely, and answers as transformers', async () => {
    const registry = new ModelRegistry(
      hostSettings({}, { offline: false, cacheDir, dtype: 'fp32' }),
    );
    const model = await registry.load('test-org/qa-bin-only');
    assert.equal(model.info.format, 'pytorch');
    const expected = JSON.parse(
      readFileSync(join(repos['test-org/qa-bin-only'], 'expected.json'), 'utf8'),
    ) as {
      cases: {
        question: string;
        context: string;
        answer: { answer: string; score: number; start_utf16: number; end_utf16: number };
      }[];
    };
    for (const c of expected.cases) {
      const [best] = await answer(model, c.question, c.context, {}, neverCancelled);
      assert.equal(best.answer, c.answer.answer);
      assert.equal(best.start, c.answer.start_utf16);
      assert.equal(best.end, c.answer.end_utf16);
      assert.ok(Math.abs(best.score - c.answer.score) <= 1e-3);
    }
    assert.ok(requests.some((url) => url.endsWith('/qa-bin-only/resolve/main/pytorch_model.bin')));
    assert.ok(!requests.some((url) => url.endsWith('expected.json')));
    await registry.dispose();
  });

  it('loads every repository offline from the cache without a single request', async () => {
    const before = requests.length;
    const registry = new ModelRegistry(
      hostSettings({}, { offline: true, cacheDir, dtype: 'fp32' }),
    );
    await registry.load('test-org/tiny-lm-onnx');
    await registry.load('test-org/tiny-ner-safetensors');
    await registry.load('test-org/qa-bin-only');
    assert.equal(requests.length, before);
    await assert.rejects(registry.load('test-org/not-downloaded'), /gpt2Heads\.offline/);
    assert.equal(requests.length, before);
    await registry.dispose();
  });
});
