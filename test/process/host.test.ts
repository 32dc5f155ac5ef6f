import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CancellationTokenSource, ResponseError } from 'vscode-jsonrpc/node';
import { errorCodes, generateChunk, methods, type GenerateResult } from '../../src/protocol';
import { hostSettings, startHost, type HostProcess } from '../support/hostProcess';
import { fixturesDir, repoRoot } from '../support/fixtures';

interface GreedyCase {
  id: string;
  prompt: string;
  new_ids: number[];
  new_text: string;
}

const lmFolder = join(fixturesDir, 'gpt2-tiny-lm');
const greedy = (
  JSON.parse(readFileSync(join(lmFolder, 'expected.json'), 'utf8')) as {
    generation: { greedy: GreedyCase[] };
  }
).generation.greedy;

async function rejection(promise: Promise<unknown>): Promise<ResponseError<unknown>> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ResponseError, `expected a ResponseError, got ${String(error)}`);
    return error;
  }
  assert.fail('the request succeeded but should have failed');
}

describe('model host process', function () {
  this.timeout(60_000);
  let host: HostProcess;

  before(async () => {
    host = await startHost(repoRoot, hostSettings({ lm: lmFolder }));
  });
  after(() => host.stop());

  it('continues every reference prompt with the greedy tokens Hugging Face generates', async () => {
    for (const expected of greedy) {
      const result = await host.connection.sendRequest(methods.generate, {
        prompt: expected.prompt,
        options: { max_new_tokens: expected.new_ids.length },
        reuseCache: false,
      });
      assert.deepEqual(result.new_token_ids, expected.new_ids, expected.id);
      assert.equal(result.new_text, expected.new_text, expected.id);
    }
  });

  it('streams the new text as partial results that add up to the final text', async () => {
    const chunks: string[] = [];
    const token = 'stream-1';
    const listener = host.connection.onProgress(generateChunk, token, (chunk) => {
      chunks.push(chunk.text);
    });
    const result = await host.connection.sendRequest(methods.generate, {
      prompt: greedy[1].prompt,
      options: { max_new_tokens: 12 },
      partialResultToken: token,
    });
    listener.dispose();
    assert.ok(chunks.length > 1, 'expected several chunks');
    assert.equal(chunks.join(''), result.new_text);
  });

  it('reuses the cached keys and values of a shared prefix and still gives the cold result', async () => {
    const prompt = greedy[1].prompt;
    const cold = await host.connection.sendRequest(methods.generate, {
      prompt: `${prompt} and then`,
      options: { max_new_tokens: 8 },
      reuseCache: false,
    });
    await host.connection.sendRequest(methods.generate, {
      prompt,
      options: { max_new_tokens: 8 },
    });
    const warm: GenerateResult = await host.connection.sendRequest(methods.generate, {
      prompt: `${prompt} and then`,
      options: { max_new_tokens: 8 },
    });
    assert.ok(warm.reused_tokens >= 10, `reused ${warm.reused_tokens} tokens`);
    assert.deepEqual(warm.new_token_ids, cold.new_token_ids);
  });

  it('stops a long generation when the request is cancelled', async () => {
    const source = new CancellationTokenSource();
    const token = 'cancel-1';
    let chunks = 0;
    const listener = host.connection.onProgress(generateChunk, token, () => {
      chunks++;
      source.cancel();
    });
    const error = await rejection(
      host.connection.sendRequest(
        methods.generate,
        { prompt: 'Once upon a time', options: { max_new_tokens: 100 }, partialResultToken: token },
        source.token,
      ),
    );
    listener.dispose();
    assert.equal(error.code, errorCodes.cancelled);
    assert.ok(chunks < 20, `the host went on generating (${chunks} chunks)`);
  });

  it('lists the loaded model with its architecture, dtype and context length', async () => {
    const status = await host.connection.sendRequest(methods.status);
    const lm = status.models.find((model) => model.source === lmFolder);
    assert.ok(lm, 'the LM is listed');
    assert.equal(lm.state, 'ready');
    assert.equal(lm.architecture, 'GPT2LMHeadModel');
    assert.equal(lm.dtype, 'fp32');
    assert.equal(lm.contextLength, 128);
    assert.deepEqual(lm.roles, ['lm']);
    assert.ok((lm.parameterCount ?? 0) > 0);
  });
});

describe('a long model call in the host', function () {
  this.timeout(60_000);
  let host: HostProcess;
  before(async () => {
    host = await startHost(
      repoRoot,
      hostSettings({ lm: lmFolder, ner: join(fixturesDir, 'gpt2-tiny-ner') }),
    );
  });
  after(() => host.stop());

  it('does not block a short request, and stops when cancelled', async () => {
    const cases = JSON.parse(readFileSync(join(fixturesDir, 'cases.json'), 'utf8')) as {
      texts: { id: string; text: string }[];
    };
    const long = cases.texts.find((t) => t.id === 'long_text')!.text;
    const huge = Array.from({ length: 600 }, (_, i) => `${i}. ${long}`).join('\n\n');
    // Warm both models so that loading does not decide the order.
    await host.connection.sendRequest(methods.generate, {
      prompt: 'Hi',
      options: { max_new_tokens: 1 },
    });
    await host.connection.sendRequest(methods.tag, {
      role: 'ner',
      text: 'Hi',
      aggregation_strategy: 'simple',
    });
    const order: string[] = [];
    const source = new CancellationTokenSource();
    const tagging = host.connection
      .sendRequest(
        methods.tag,
        { role: 'ner', text: huge, aggregation_strategy: 'simple' },
        source.token,
      )
      .then(
        () => order.push('long answered'),
        (error: ResponseError<unknown>) =>
          order.push(`long ${error.code === errorCodes.cancelled ? 'cancelled' : error.message}`),
      );
    await new Promise((resolve) => setTimeout(resolve, 100));
    await host.connection.sendRequest(methods.generate, {
      prompt: 'Once upon a time',
      options: { max_new_tokens: 3 },
    });
    order.push('short answered');
    source.cancel();
    await tagging;
    assert.deepEqual(order, ['short answered', 'long cancelled']);
  });
});

describe('model host errors', function () {
  this.timeout(60_000);
  let host: HostProcess | undefined;
  afterEach(() => host?.stop());

  it('says which setting to change when no language model is configured', async () => {
    host = await startHost(repoRoot, hostSettings({}));
    const error = await rejection(
      host.connection.sendRequest(methods.generate, { prompt: 'Hello', options: {} }),
    );
    assert.equal(error.code, errorCodes.modelNotConfigured);
    assert.match(error.message, /gpt2Heads\.lm\.model/);
  });

  it('reports a model folder that does not exist', async () => {
    const missing = join(tmpdir(), 'gpt2-heads-no-such-model');
    host = await startHost(repoRoot, hostSettings({ lm: missing }));
    const error = await rejection(
      host.connection.sendRequest(methods.generate, { prompt: 'Hello', options: {} }),
    );
    assert.equal(error.code, errorCodes.modelLoadFailed);
    assert.match(error.message, /does not exist/);
  });

  it('reports a corrupt ONNX file without crashing, and keeps serving', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'gpt2-heads-corrupt-'));
    for (const file of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) {
      copyFileSync(join(lmFolder, file), join(folder, file));
    }
    mkdirSync(join(folder, 'onnx'));
    writeFileSync(join(folder, 'onnx', 'model.onnx'), 'this is not a protobuf file');
    host = await startHost(repoRoot, hostSettings({ lm: folder }));
    const error = await rejection(
      host.connection.sendRequest(methods.generate, { prompt: 'Hello', options: {} }),
    );
    assert.match(error.message, /damaged or not ONNX/);
    const status = await host.connection.sendRequest(methods.status);
    assert.equal(status.models[0].state, 'error');
  });

  it('fails pending requests with an error when the host process is killed', async () => {
    host = await startHost(repoRoot, hostSettings({ lm: lmFolder }));
    const pending = host.connection.sendRequest(methods.generate, {
      prompt: 'Once upon a time',
      options: { max_new_tokens: 100 },
    });
    const settled = pending.then(
      () => 'answered',
      () => 'failed',
    );
    setTimeout(() => host?.child.kill('SIGKILL'), 50);
    const closed = new Promise<void>((resolve) => host?.connection.onClose(() => resolve()));
    await closed;
    host.connection.dispose();
    assert.equal(
      await Promise.race([settled, new Promise((r) => setTimeout(() => r('hung'), 5000))]),
      'failed',
    );
  });
});
