// Trust and privacy: no network offline (proved by a process-wide guard), restricted settings in
// untrusted workspaces, model files never executed, model output escaped, no document text logged.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ResponseError } from 'vscode-jsonrpc/node';
import { methods } from '../../src/protocol';
import { escapeMarkdown } from '../../src/text/markdown';
import { hostSettings, startHost, type HostProcess } from '../support/hostProcess';
import { fixturesDir, repoRoot } from '../support/fixtures';

const models = {
  lm: join(fixturesDir, 'gpt2-tiny-lm'),
  ner: join(fixturesDir, 'gpt2-tiny-ner'),
  classification: join(fixturesDir, 'gpt2-tiny-sentiment'),
  qa: join(fixturesDir, 'gpt2-tiny-qa'),
};

// Loaded into the host with --require: every way Node reaches the network throws and is recorded.
const networkGuard = (record: string) => `
const fs = require('node:fs');
const attempt = (what) => function () {
  fs.appendFileSync(${JSON.stringify(record)}, what + '\\n');
  throw new Error('network use is forbidden in this test: ' + what);
};
globalThis.fetch = attempt('fetch');
for (const name of ['http', 'https']) {
  const mod = require('node:' + name);
  mod.request = attempt(name + '.request');
  mod.get = attempt(name + '.get');
}
const net = require('node:net');
net.connect = net.createConnection = attempt('net.connect');
require('node:tls').connect = attempt('tls.connect');
const dns = require('node:dns');
dns.lookup = attempt('dns.lookup');
dns.resolve = attempt('dns.resolve');
`;

async function failure(promise: Promise<unknown>): Promise<ResponseError<unknown>> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ResponseError, String(error));
    return error;
  }
  assert.fail('the request succeeded but should have failed');
}

describe('security: offline means no network attempt at all', function () {
  this.timeout(60_000);
  let folder: string;
  let host: HostProcess;
  let record: string;

  before(async () => {
    folder = mkdtempSync(join(tmpdir(), 'gpt2-heads-guard-'));
    record = join(folder, 'attempts.log');
    writeFileSync(join(folder, 'guard.js'), networkGuard(record));
    const saved = process.env.NODE_OPTIONS;
    // fork copies the environment when it starts the child; restore ours right after.
    process.env.NODE_OPTIONS = `${saved ?? ''} --require ${join(folder, 'guard.js')}`.trim();
    try {
      host = await startHost(repoRoot, hostSettings(models, { offline: true }));
    } finally {
      if (saved === undefined) delete process.env.NODE_OPTIONS;
      else process.env.NODE_OPTIONS = saved;
    }
  });
  after(async () => {
    await host?.stop();
    rmSync(folder, { recursive: true, force: true });
  });

  it('serves every head and refuses a Hub id naming gpt2Heads.offline, without touching the network', async () => {
    const text = 'Ada Lovelace wrote programs in London.';
    await host.connection.sendRequest(methods.tag, {
      role: 'ner',
      text,
      aggregation_strategy: 'simple',
    });
    await host.connection.sendRequest(methods.classify, { text, scope: 'document' });
    await host.connection.sendRequest(methods.answer, { question: 'Who?', context: text });
    await host.connection.sendRequest(methods.generate, {
      prompt: text,
      options: { max_new_tokens: 3 },
    });
    await host.connection.sendNotification(methods.configure, {
      ...hostSettings(models, { offline: true }),
      models: { ...hostSettings(models).models, ner: 'openai-community/gpt2' },
    });
    const error = await failure(
      host.connection.sendRequest(methods.tag, {
        role: 'ner',
        text,
        aggregation_strategy: 'simple',
      }),
    );
    assert.match(error.message, /"gpt2Heads\.offline" is on/);
    // The guard is live in the host: the file exists only if something was attempted.
    assert.equal(existsSync(record) ? readFileSync(record, 'utf8') : '', '');
    assert.equal(host.child.exitCode, null);
  });

  it('records the attempt when the same Hub id may be downloaded (the guard is live)', async () => {
    await host.connection.sendNotification(methods.configure, {
      ...hostSettings(models, { offline: false }),
      models: { ...hostSettings(models).models, ner: 'openai-community/gpt2' },
    });
    await failure(
      host.connection.sendRequest(methods.tag, {
        role: 'ner',
        text: 'x',
        aggregation_strategy: 'simple',
      }),
    );
    assert.match(readFileSync(record, 'utf8'), /fetch|request|connect|lookup/);
  });
});

describe('security: workspace trust', () => {
  const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
    contributes: {
      configuration:
        { properties: Record<string, unknown> } | { properties: Record<string, unknown> }[];
    };
    capabilities: {
      untrustedWorkspaces: { supported: unknown; restrictedConfigurations?: string[] };
    };
  };
  const configuration = manifest.contributes.configuration;
  const keys = (Array.isArray(configuration) ? configuration : [configuration]).flatMap((c) =>
    Object.keys(c.properties),
  );

  it('restricts every model path and the cache directory in untrusted workspaces', () => {
    const wanted = keys.filter(
      (key) => key.endsWith('.model') || key === 'gpt2Heads.cacheDirectory',
    );
    assert.ok(wanted.length >= 7, `model settings found: ${wanted.join(', ')}`);
    const restricted = manifest.capabilities.untrustedWorkspaces.restrictedConfigurations ?? [];
    assert.deepEqual(
      wanted.filter((key) => !restricted.includes(key)),
      [],
      'settings missing from restrictedConfigurations',
    );
    assert.equal(manifest.capabilities.untrustedWorkspaces.supported, 'limited');
  });
});

describe('security: model output in Markdown', () => {
  const hostile = [
    '<img src=x onerror=alert(1)>',
    '[click](command:workbench.action.terminal.new)',
    '![x](https://evil.example/x.png)',
    '<https://evil.example>',
    '`code` **bold** _em_ ~~del~~',
    'line\n# heading\n- item\n===',
    '&lt;script&gt;',
    '\\[escaped\\](command:x)',
  ];

  it('escapes every Markdown and HTML special character of a model label', () => {
    for (const label of hostile) {
      const escaped = escapeMarkdown(label);
      assert.ok(!/[\r\n]/.test(escaped), `${label}: a line break survives`);
      // Outside backslash escapes, no ASCII punctuation is left to start Markdown or HTML.
      for (let i = 0; i < escaped.length; i++) {
        if (escaped[i] === '\\') i++;
        else assert.doesNotMatch(escaped[i], /[!-/:-@[-`{-~]/, `${JSON.stringify(label)} at ${i}`);
      }
    }
  });

  it('keeps the text readable: removing the escapes gives the label back (line breaks as spaces)', () => {
    for (const label of hostile) {
      assert.equal(escapeMarkdown(label).replace(/\\(.)/g, '$1'), label.replace(/[\r\n]+/g, ' '));
    }
  });
});

describe('logs: no document text unless tracing', function () {
  this.timeout(60_000);
  let host: HostProcess;
  const logs: string[] = [];
  const marker = 'QuixoticMarker4711';

  before(async () => {
    host = await startHost(
      repoRoot,
      hostSettings({ ...models, pos: join(tmpdir(), 'no-such-pos-model') }),
    );
    host.connection.onNotification('window/logMessage', (params: { message: string }) => {
      logs.push(params.message);
    });
  });
  after(() => host?.stop());

  it('never logs the text of successful or failing requests, and logs each failure once', async () => {
    const text = `${marker} met Grace Hopper in ${marker}ville.`;
    await host.connection.sendRequest(methods.tag, {
      role: 'ner',
      text,
      aggregation_strategy: 'simple',
    });
    await host.connection.sendRequest(methods.classify, { text, scope: 'sequence' });
    await host.connection.sendRequest(methods.answer, {
      question: `Who is ${marker}?`,
      context: text,
    });
    await host.connection.sendRequest(methods.generate, {
      prompt: text,
      options: { max_new_tokens: 2 },
    });
    const bad = await failure(
      host.connection.sendRequest(methods.tag, {
        role: 'pos',
        text,
        aggregation_strategy: 'simple',
      }),
    );
    const empty = await failure(
      host.connection.sendRequest(methods.answer, { question: ' ', context: text }),
    );
    await host.connection.sendRequest(methods.status);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const all = [...logs, host.stderr()].join('\n');
    assert.ok(!all.includes(marker), `the log holds document text:\n${all}`);
    for (const error of [bad, empty]) {
      const lines = logs.filter((line) => line.includes(error.message));
      assert.equal(
        lines.length,
        1,
        `"${error.message}" logged ${lines.length} times:\n${logs.join('\n')}`,
      );
      assert.match(lines[0], /gpt2Heads\/(tag|answer)/, 'the log line names the request');
    }
    assert.match(bad.message, /no-such-pos-model" does not exist/);
  });
});
