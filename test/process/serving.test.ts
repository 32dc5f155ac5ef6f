// Serving engines, against stand-ins on 127.0.0.1 (no engine can be installed here): the
// exported Triton repository served over the Open Inference Protocol by onnxruntime-node, and an
// OpenAI-compatible completions server running the fixture LM. Through the CLI and the real
// host process the results equal the local ones exactly (fp32), and every fault has a clear error.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { closedPort } from '../support/ports';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ResponseError } from 'vscode-jsonrpc/node';
import { exportTriton } from '../../src/host/convert/triton';
import {
  generateChunk,
  methods,
  type EndpointSettings,
  type HeadRole,
  type HostSettings,
} from '../../src/protocol';
import { checkpointFrom } from '../support/exportedHeads';
import { fixtureModels, fixturesDir, repoRoot } from '../support/fixtures';
import { hostSettings, startHost, type HostProcess } from '../support/hostProcess';
import { startCompletionsServer, type CompletionsStandIn } from '../support/completionsServer';
import {
  startOpenInferenceServer,
  type OpenInferenceStandIn,
} from '../support/openInferenceServer';

const cli = join(repoRoot, 'dist', 'cli.js');
const scratch = mkdtempSync(join(tmpdir(), 'gpt2-heads-serving-'));
const cacheDir = join(scratch, 'cache');
const texts = (
  JSON.parse(readFileSync(join(fixturesDir, 'cases.json'), 'utf8')) as {
    texts: { id: string; text: string }[];
  }
).texts;
const longText = texts.map((t) => t.text).join('\n\n');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The CLI in a child process (asynchronously: the stand-ins answer from this one). */
function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, ...args],
      { env: { ...process.env, ...env }, cwd: scratch, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function rejection(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ResponseError, `expected a ResponseError, got ${String(error)}`);
    return error.message;
  }
  assert.fail('the request succeeded but should have failed');
}

async function fault(url: string, state: Record<string, unknown>): Promise<void> {
  await fetch(`${new URL(url).origin}/_fault`, { method: 'POST', body: JSON.stringify(state) });
}

function remoteSettings(
  models: Partial<Record<HeadRole, string>>,
  endpoints: EndpointSettings,
  overrides: Partial<HostSettings> = {},
): HostSettings {
  return hostSettings(models, { cacheDir, offline: false, endpoints, ...overrides });
}

const tagParams = (role: 'ner' | 'pos', text: string) => ({
  role,
  uri: `untitled:${role}`,
  text,
  aggregation_strategy: 'simple' as const,
});

describe('serving engines: Open Inference Protocol (Triton, KServe)', function () {
  this.timeout(180_000);
  const repository = join(scratch, 'triton');
  const checkpoints = join(scratch, 'checkpoints');
  const nerCheckpoint = join(fixturesDir, 'safetensors', 'gpt2-tiny-ner');
  let posCheckpoint: string;
  let fusedHeads: { prefix: string; model: string }[];
  let server: OpenInferenceStandIn;
  let local: HostProcess;
  const hosts: HostProcess[] = [];

  async function remoteHost(settings: HostSettings): Promise<HostProcess> {
    const host = await startHost(repoRoot, settings);
    hosts.push(host);
    return host;
  }

  before(async () => {
    for (const [name, model] of [
      ['ner', fixtureModels.ner],
      ['pos', fixtureModels.pos],
      ['sentiment', fixtureModels.classification],
      ['qa', fixtureModels.qa],
      ['double_heads', fixtureModels.multipleChoice],
    ]) {
      await exportTriton({ models: [model], out: repository, name, dtype: 'fp32' });
    }
    posCheckpoint = checkpointFrom('gpt2-tiny-pos', 'classifier.weight', checkpoints);
    ({ heads: fusedHeads } = await exportTriton({
      models: [nerCheckpoint, posCheckpoint],
      out: repository,
      name: 'fused',
      dtype: 'fp32',
    }));
    server = await startOpenInferenceServer(repository);
    local = await startHost(
      repoRoot,
      hostSettings(
        {
          ner: fixtureModels.ner,
          pos: fixtureModels.pos,
          classification: fixtureModels.classification,
          qa: fixtureModels.qa,
          multipleChoice: fixtureModels.multipleChoice,
        },
        { cacheDir },
      ),
    );
  });
  afterEach(async () => {
    await fault(server.url, { fault: 'none', busyCount: 0, retryAfterSeconds: 0, delayMs: 0 });
    await Promise.all(hosts.splice(0).map((host) => host.stop()));
  });
  after(async () => {
    await local?.stop();
    await server?.close();
  });

  it('exports a Triton repository: typed inputs and outputs, dynamic batch and sequence axes, the same graph', () => {
    const config = readFileSync(join(repository, 'ner', 'config.pbtxt'), 'utf8');
    assert.match(config, /^name: "ner"$/m);
    assert.match(config, /^platform: "onnxruntime_onnx"$/m);
    assert.match(config, /^max_batch_size: \d+$/m);
    assert.match(config, /name: "input_ids"\s+data_type: TYPE_INT64\s+dims: \[ -1 \]/);
    assert.match(config, /name: "attention_mask"\s+data_type: TYPE_INT64\s+dims: \[ -1 \]/);
    assert.match(config, /name: "logits"\s+data_type: TYPE_FP32\s+dims: \[ -1, 9 \]/);
    assert.deepEqual(
      readFileSync(join(repository, 'ner', '1', 'model.onnx')),
      readFileSync(join(fixtureModels.ner, 'onnx', 'model.onnx')),
    );
    const fused = readFileSync(join(repository, 'fused', 'config.pbtxt'), 'utf8');
    // The host orders the heads of a fused graph by folder; the export says which is which.
    const prefixOf = (model: string) => fusedHeads.find((head) => head.model === model)!.prefix;
    const ner = prefixOf(nerCheckpoint);
    const pos = prefixOf(posCheckpoint);
    assert.deepEqual([ner, pos].sort(), ['h0', 'h1']);
    assert.match(
      fused,
      new RegExp(`name: "${ner}\\.logits"\\s+data_type: TYPE_FP32\\s+dims: \\[ -1, 9 \\]`),
    );
    assert.match(
      fused,
      new RegExp(`name: "${pos}\\.logits"\\s+data_type: TYPE_FP32\\s+dims: \\[ -1, 17 \\]`),
    );
    assert.match(
      fused,
      new RegExp(`key: "gpt2_heads.${ner}"\\s+value: \\{ string_value: "${nerCheckpoint}" \\}`),
    );
  });

  it('export-triton refuses a language model and names the OpenAI-compatible route', async () => {
    const run = await runCli([
      'export-triton',
      '--model',
      fixtureModels.lm,
      '--out',
      join(scratch, 'lm-repo'),
    ]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /OpenAI-compatible server.*gpt2Heads\.lm\.endpoint/);
  });

  it('token-classification --endpoint prints the same JSON as without it (fp32, several windows)', async () => {
    const args = [
      'token-classification',
      '--model',
      fixtureModels.ner,
      '--text',
      longText,
      '--aggregation-strategy',
      'simple',
      '--stride',
      '16',
      '--dtype',
      'fp32',
      '--cache-dir',
      cacheDir,
      '--json',
    ];
    const before = server.batches.length;
    const [withoutEndpoint, withEndpoint] = await Promise.all([
      runCli(args),
      runCli([...args, '--endpoint', server.modelUrl('ner')]),
    ]);
    assert.equal(withEndpoint.stderr, '');
    assert.equal(withoutEndpoint.code, 0, withoutEndpoint.stderr);
    assert.ok(JSON.parse(withoutEndpoint.stdout).length > 10);
    assert.equal(withEndpoint.stdout, withoutEndpoint.stdout);
    assert.ok(server.batches.length - before >= 2, 'the windows did not go to the server');
  });

  it('the host tags, classifies, answers and chooses through endpoints exactly as locally', async () => {
    const remote = await remoteHost(
      remoteSettings(
        {
          ner: fixtureModels.ner,
          classification: fixtureModels.classification,
          qa: fixtureModels.qa,
          multipleChoice: fixtureModels.multipleChoice,
        },
        {
          urls: {
            ner: server.modelUrl('ner'),
            classification: server.modelUrl('sentiment'),
            qa: server.modelUrl('qa'),
            multipleChoice: server.modelUrl('double_heads'),
          },
        },
      ),
    );
    const requests: [string, (host: HostProcess) => Promise<unknown>][] = [
      ['tag', (h) => h.connection.sendRequest(methods.tag, tagParams('ner', longText))],
      [
        'classify',
        (h) => h.connection.sendRequest(methods.classify, { text: longText, scope: 'document' }),
      ],
      [
        'answer',
        (h) =>
          h.connection.sendRequest(methods.answer, {
            question: 'Who lives in Paris?',
            context: texts[0].text,
            top_k: 3,
          }),
      ],
      [
        'choose',
        (h) =>
          h.connection.sendRequest(methods.choose, {
            context: 'The capital of France is',
            options: [' Paris', ' London', ' a small dog'],
          }),
      ],
    ];
    for (const [name, request] of requests) {
      const [expected, actual] = await Promise.all([request(local), request(remote)]);
      assert.deepEqual(actual, expected, name);
    }
    const status = await remote.connection.sendRequest(methods.status);
    const ner = status.models.find((model) => model.roles.includes('ner'));
    assert.equal(ner?.endpoint, server.modelUrl('ner'));
    assert.equal(ner?.endpointReady, true);
  });

  it('one fused model serves each head by #h0 / #h1 with the local results', async () => {
    const models = { ner: nerCheckpoint, pos: posCheckpoint };
    const fused = server.modelUrl('fused');
    const prefixOf = (model: string) => fusedHeads.find((head) => head.model === model)!.prefix;
    const remote = await remoteHost(
      remoteSettings(models, {
        urls: {
          ner: `${fused}#${prefixOf(nerCheckpoint)}`,
          pos: `${fused}#${prefixOf(posCheckpoint)}`,
        },
      }),
    );
    const localShared = await remoteHost(hostSettings(models, { cacheDir }));
    for (const role of ['ner', 'pos'] as const) {
      const [expected, actual] = await Promise.all([
        localShared.connection.sendRequest(methods.tag, tagParams(role, texts[1].text)),
        remote.connection.sendRequest(methods.tag, tagParams(role, texts[1].text)),
      ]);
      assert.deepEqual(actual.spans, expected.spans, role);
      assert.ok(actual.spans.length > 0, role);
    }
  });

  it('a fused model without #h0 says which fragment to add', async () => {
    const remote = await remoteHost(
      remoteSettings({ ner: nerCheckpoint }, { urls: { ner: server.modelUrl('fused') } }),
    );
    const message = await rejection(
      remote.connection.sendRequest(methods.tag, tagParams('ner', 'John lives in Paris.')),
    );
    assert.match(
      message,
      /fused graph of several heads: add #h0 or #h1 to "gpt2Heads\.ner\.endpoint"/,
    );
  });

  it('a served model whose label count differs from the local config is a clear error', async () => {
    const remote = await remoteHost(
      remoteSettings({ ner: fixtureModels.ner }, { urls: { ner: server.modelUrl('pos') } }),
    );
    const message = await rejection(
      remote.connection.sendRequest(methods.tag, tagParams('ner', 'John lives in Paris.')),
    );
    assert.match(message, /gives 17 values per token .* names 9 labels/);
  });

  it('batches windows of concurrent documents into padded requests; one window per request with --max-batch 1', async () => {
    const docs = join(scratch, 'batch-docs');
    mkdirSync(join(docs, 'sub'), { recursive: true });
    texts
      .slice(0, 8)
      .forEach((t, i) => writeFileSync(join(docs, i % 2 ? 'sub' : '', `${t.id}.txt`), t.text));
    const args = (output: string) => [
      'text-classification',
      '--model',
      fixtureModels.classification,
      '--dtype',
      'fp32',
      '--document',
      '--input-glob',
      `${docs}/**/*.txt`,
      '--output',
      join(scratch, output),
      '--concurrency',
      '8',
    ];
    const lines = (output: string) =>
      readFileSync(join(scratch, output), 'utf8')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { path: string })
        .sort((a, b) => a.path.localeCompare(b.path));
    const localRun = await runCli(args('local.jsonl'));
    assert.equal(localRun.code, 0, localRun.stderr);
    const before = server.batches.length;
    const batched = await runCli([
      ...args('batched.jsonl'),
      '--endpoint',
      server.modelUrl('sentiment'),
    ]);
    assert.equal(batched.code, 0, batched.stderr);
    const batches = server.batches.slice(before);
    assert.ok(Math.max(...batches) > 1, `no request carried several windows: ${batches.join(',')}`);
    const single = await runCli([
      ...args('single.jsonl'),
      '--endpoint',
      server.modelUrl('sentiment'),
      '--max-batch',
      '1',
    ]);
    assert.equal(single.code, 0, single.stderr);
    assert.ok(server.batches.slice(before + batches.length).every((rows) => rows === 1));
    assert.equal(lines('local.jsonl').length, 8);
    assert.deepEqual(lines('batched.jsonl'), lines('local.jsonl'));
    assert.deepEqual(lines('single.jsonl'), lines('local.jsonl'));
  });

  describe('faults', () => {
    const nerHost = (overrides: Partial<EndpointSettings> = {}, url = server.modelUrl('ner')) =>
      remoteHost(
        remoteSettings(
          { ner: fixtureModels.ner, pos: fixtureModels.pos },
          { urls: { ner: url }, ...overrides },
        ),
      );
    // A new text each time: the host caches the logits of windows it has seen.
    let counter = 0;
    const tagNer = (host: HostProcess) =>
      host.connection.sendRequest(
        methods.tag,
        tagParams('ner', `John Smith lives in Paris, street ${++counter}.`),
      );

    it('a server that is down: a clear error, and the local heads keep working', async () => {
      const host = await nerHost({}, `http://127.0.0.1:${await closedPort()}/v2/models/ner`);
      assert.match(
        await rejection(tagNer(host)),
        /cannot be reached .*ECONNREFUSED.*"gpt2Heads\.ner\.endpoint"/,
      );
      const pos = await host.connection.sendRequest(
        methods.tag,
        tagParams('pos', 'John Smith lives in Paris.'),
      );
      assert.ok(pos.spans.length > 0);
      const status = await host.connection.sendRequest(methods.status);
      assert.ok(status.models.some((m) => m.error && /cannot be reached/.test(m.error)));
    });

    it('a slow server: the request times out with a clear error', async () => {
      const host = await nerHost({ timeoutMs: 400 });
      await tagNer(host); // metadata and a first answer come quickly
      await fault(server.url, { fault: 'slow', delayMs: 3000 });
      const started = Date.now();
      assert.match(await rejection(tagNer(host)), /did not answer within 0\.4 s/);
      assert.ok(Date.now() - started < 2500);
    });

    it('malformed JSON is a clear error', async () => {
      const host = await nerHost();
      await fault(server.url, { fault: 'malformed' });
      assert.match(await rejection(tagNer(host)), /answered with something that is not JSON/);
    });

    for (const kind of ['wrong-shape', 'wrong-dtype']) {
      it(`an answer with the ${kind.replace('-', ' ')} is a clear error`, async () => {
        const host = await nerHost();
        await fault(server.url, { fault: kind });
        assert.match(
          await rejection(tagNer(host)),
          /answered "logits" as .* expected FP32 \[1,\d+,9\]\. The served model does not match/,
        );
      });
    }

    it('429 and 503 with Retry-After are retried after the wait the server asks for', async () => {
      const host = await nerHost();
      await tagNer(host);
      await fault(server.url, { fault: 'busy', busyCount: 2, retryAfterSeconds: 1 });
      const started = Date.now();
      assert.ok((await tagNer(host)).spans.length > 0);
      assert.ok(Date.now() - started >= 1900, 'Retry-After was not honoured');
      await fault(server.url, { fault: 'busy', busyCount: 10, retryAfterSeconds: 0 });
      assert.match(
        await rejection(tagNer(host)),
        /HTTP (429|503) after 4 attempts \(the server is overloaded\)/,
      );
    });

    it('gpt2Heads.offline refuses endpoints with a message that says what to change', async () => {
      const host = await remoteHost(
        remoteSettings(
          { ner: fixtureModels.ner },
          { urls: { ner: server.modelUrl('ner') } },
          { offline: true },
        ),
      );
      assert.match(
        await rejection(tagNer(host)),
        /"gpt2Heads\.ner\.endpoint" is set but "gpt2Heads\.offline" is on.*Turn off "gpt2Heads\.offline"/,
      );
    });

    it('sends the API key as a bearer token and never puts it in a message or the log', async () => {
      // As the extension and the CLI pass it: in the host's environment, never in a message.
      const key = 'sk-test-5ecret-k3y';
      process.env.GPT2_HEADS_API_KEY = key;
      let host: HostProcess;
      try {
        host = await nerHost();
      } finally {
        delete process.env.GPT2_HEADS_API_KEY;
      }
      const seen = server.authorizations.length;
      await tagNer(host);
      assert.ok(server.authorizations.slice(seen).every((header) => header === `Bearer ${key}`));
      await fault(server.url, { fault: 'malformed' });
      const message = await rejection(tagNer(host));
      assert.ok(!message.includes(key));
      assert.ok(!host.stderr().includes(key));
    });
  });
});

describe('serving engines: OpenAI-compatible completions (vLLM)', function () {
  this.timeout(180_000);
  interface Greedy {
    prompt: string;
    new_ids: number[];
    new_text: string;
  }
  const greedy = (
    JSON.parse(readFileSync(join(fixtureModels.lm, 'expected.json'), 'utf8')) as {
      generation: { greedy: Greedy[] };
    }
  ).generation.greedy;
  let server: CompletionsStandIn;
  let local: HostProcess;
  let remote: HostProcess;

  before(async () => {
    server = await startCompletionsServer(fixtureModels.lm);
    local = await startHost(repoRoot, hostSettings({ lm: fixtureModels.lm }, { cacheDir }));
    remote = await startHost(
      repoRoot,
      remoteSettings(
        { lm: fixtureModels.lm },
        { urls: { lm: server.url }, lmModel: server.modelName, timeoutMs: 10_000 },
      ),
    );
  });
  afterEach(() => fault(server.url, { fault: 'none', busyCount: 0, chunkDelayMs: 0 }));
  after(async () => {
    await Promise.all([local?.stop(), remote?.stop()]);
    await server?.close();
  });

  async function generateStreaming(host: HostProcess, prompt: string, max: number) {
    const token = `stream-${Math.random()}`;
    const chunks: string[] = [];
    const listener = host.connection.onProgress(generateChunk, token, (chunk) => {
      chunks.push(chunk.text);
    });
    try {
      const result = await host.connection.sendRequest(methods.generate, {
        prompt,
        options: { max_new_tokens: max },
        reuseCache: false,
        partialResultToken: token,
      });
      return { result, chunks };
    } finally {
      listener.dispose();
    }
  }

  it('streams the same greedy text as the local LM, sending greedy as temperature 0', async () => {
    for (const expected of greedy) {
      const { result, chunks } = await generateStreaming(
        remote,
        expected.prompt,
        expected.new_ids.length,
      );
      assert.equal(result.new_text, expected.new_text, expected.prompt);
      assert.equal(chunks.join(''), expected.new_text);
      assert.ok(chunks.length > 1, 'the text did not arrive in pieces');
    }
    const last = server.requests.at(-1)!;
    assert.equal(last.temperature, 0);
    assert.equal(last.stream, true);
    assert.equal(last.max_tokens, greedy.at(-1)!.new_ids.length);
    assert.equal(last.model, server.modelName);
  });

  it('sends max_tokens, temperature, top_p, stop and seed when sampling; the stop string ends the text', async () => {
    const options = {
      max_new_tokens: 12,
      do_sample: true,
      temperature: 0.7,
      top_p: 0.9,
      seed: 7,
      stop_strings: ['the'],
    };
    const [remoteResult, localResult] = await Promise.all(
      [remote, local].map((host) =>
        host.connection.sendRequest(methods.generate, {
          prompt: greedy[0].prompt,
          options,
          reuseCache: false,
        }),
      ),
    );
    const last = server.requests.at(-1)!;
    assert.deepEqual(
      [last.max_tokens, last.temperature, last.top_p, last.stop, last.seed],
      [12, 0.7, 0.9, ['the'], 7],
    );
    assert.equal(remoteResult.new_text, localResult.new_text);
    assert.equal(remoteResult.finish_reason, localResult.finish_reason);
  });

  it('cancelling closes the stream', async () => {
    await fault(server.url, { chunkDelayMs: 100 });
    const closedBefore = server.closedEarly;
    const token = `cancel-${Math.random()}`;
    const chunks: string[] = [];
    const listener = remote.connection.onProgress(generateChunk, token, (chunk) => {
      chunks.push(chunk.text);
    });
    const { CancellationTokenSource } = await import('vscode-jsonrpc/node');
    const source = new CancellationTokenSource();
    const pending = remote.connection.sendRequest(
      methods.generate,
      {
        prompt: greedy[0].prompt,
        options: { max_new_tokens: 60 },
        reuseCache: false,
        partialResultToken: token,
      },
      source.token,
    );
    while (chunks.length < 2) await new Promise((resolve) => setTimeout(resolve, 20));
    source.cancel();
    await pending.catch(() => undefined);
    listener.dispose();
    const deadline = Date.now() + 5000;
    while (server.closedEarly === closedBefore && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(server.closedEarly, closedBefore + 1, 'the server stream stayed open');
    assert.ok(chunks.length < 20);
  });

  it('a stream dropped mid-way is a clear error', async () => {
    await fault(server.url, { fault: 'drop' });
    const message = await rejection(
      remote.connection.sendRequest(methods.generate, {
        prompt: greedy[0].prompt,
        options: { max_new_tokens: 10 },
        reuseCache: false,
      }),
    );
    assert.match(
      message,
      /The stream from .*\/v1\/completions ended before the completion finished/,
    );
  });

  it('429 with Retry-After on completions is retried', async () => {
    await fault(server.url, { fault: 'busy', busyCount: 1, retryAfterSeconds: 1 });
    const started = Date.now();
    const result = await remote.connection.sendRequest(methods.generate, {
      prompt: greedy[0].prompt,
      options: { max_new_tokens: greedy[0].new_ids.length },
      reuseCache: false,
    });
    assert.equal(result.new_text, greedy[0].new_text);
    assert.ok(Date.now() - started >= 900);
  });

  it('zero-shot classification and LM multiple choice score with echo + logprobs exactly as locally', async () => {
    const classify = {
      text: texts[0].text,
      scope: 'sequence' as const,
      zeroShot: { labels: ['sports', 'politics', 'science'] },
    };
    const choose = {
      context: 'The capital of France is',
      options: [' Paris', ' London', ' a small dog'],
    };
    const [localLabels, remoteLabels, localChoice, remoteChoice] = await Promise.all([
      local.connection.sendRequest(methods.classify, classify),
      remote.connection.sendRequest(methods.classify, classify),
      local.connection.sendRequest(methods.choose, choose),
      remote.connection.sendRequest(methods.choose, choose),
    ]);
    assert.deepEqual(remoteLabels, localLabels);
    assert.deepEqual(remoteChoice, localChoice);
    assert.equal(server.requests.at(-1)!.echo, true);
  });

  it('a server without echo + logprobs says clearly that it cannot score', async () => {
    await fault(server.url, { fault: 'no-echo' });
    const message = await rejection(
      remote.connection.sendRequest(methods.choose, { context: 'Pick:', options: [' a', ' b'] }),
    );
    assert.match(
      message,
      /does not return the log-probabilities of the prompt \(echo \+ logprobs\).*Clear "gpt2Heads\.lm\.endpoint"/,
    );
  });

  it('text-generation --endpoint --endpoint-model streams the server text without a local model', async () => {
    const expected = greedy[1];
    const run = await runCli([
      'text-generation',
      '--endpoint',
      server.url,
      '--endpoint-model',
      server.modelName,
      '--text',
      expected.prompt,
      '--max-new-tokens',
      String(expected.new_ids.length),
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, `${expected.prompt}${expected.new_text}\n`);
  });
});

describe('corpus mode of the CLI', function () {
  this.timeout(120_000);

  it('writes one JSON line per document, records failures without stopping, and resumes', async () => {
    const docs = join(scratch, 'corpus');
    mkdirSync(join(docs, 'deep', 'er'), { recursive: true });
    writeFileSync(join(docs, 'a.txt'), texts[0].text);
    writeFileSync(join(docs, 'deep', 'b.txt'), texts[1].text);
    writeFileSync(join(docs, 'deep', 'er', 'c.txt'), texts[2].text);
    writeFileSync(join(docs, 'deep', 'empty.txt'), '');
    writeFileSync(join(docs, 'skip.md'), 'not matched');
    const output = join(scratch, 'corpus.jsonl');
    const args = [
      'text-classification',
      '--model',
      fixtureModels.classification,
      '--dtype',
      'fp32',
      '--input-glob',
      'corpus/**/*.txt',
      '--output',
      output,
      '--concurrency',
      '2',
    ];
    const first = await runCli(args);
    assert.equal(first.code, 1, 'a failed document makes the exit code 1');
    assert.match(first.stderr, /^\d\/4 corpus\/\S+ ok \(\d+\.\d docs\/s, ETA \d+:\d\d\)$/m);
    assert.match(first.stderr, /3 documents done, 1 failed, 0 already in/);
    const records = readFileSync(output, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { path: string; result?: unknown; error?: string });
    assert.deepEqual(records.map((r) => r.path).sort(), [
      'corpus/a.txt',
      'corpus/deep/b.txt',
      'corpus/deep/empty.txt',
      'corpus/deep/er/c.txt',
    ]);
    assert.match(records.find((r) => r.path.endsWith('empty.txt'))!.error!, /no text to classify/);
    const single = await runCli([
      'text-classification',
      '--model',
      fixtureModels.classification,
      '--dtype',
      'fp32',
      '--input',
      join(docs, 'a.txt'),
      '--json',
    ]);
    assert.deepEqual(
      records.find((r) => r.path === 'corpus/a.txt')!.result,
      JSON.parse(single.stdout),
    );

    // Interrupted mid-line: the cut line and the documents not yet written run again.
    const kept = readFileSync(output, 'utf8').trim().split('\n');
    const aLine = kept.find((line) => line.includes('"corpus/a.txt"'))!;
    writeFileSync(
      output,
      `${kept
        .filter((line) => line !== aLine)
        .slice(0, 2)
        .join('\n')}\n{"path":"corpus/a.t`,
    );
    const resumed = await runCli(args);
    assert.match(resumed.stderr, /already in/);
    const after = readFileSync(output, 'utf8').trim().split('\n');
    const paths = after.flatMap((line) => {
      try {
        return [(JSON.parse(line) as { path: string }).path];
      } catch {
        return [];
      }
    });
    assert.deepEqual([...paths].sort(), [
      'corpus/a.txt',
      'corpus/deep/b.txt',
      'corpus/deep/empty.txt',
      'corpus/deep/er/c.txt',
    ]);
    const again = await runCli(args);
    assert.match(again.stderr, /0 documents done, 0 failed, 4 already in/);
    assert.equal(again.code, 0);
  });
});
