// Broken model folders against the real host process: each gets a specific message, the host
// stays up, serves a good model right after, and never lists the broken one as loaded.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ResponseError } from 'vscode-jsonrpc/node';
import { errorCodes, methods, type HeadRole, type HostSettings } from '../../src/protocol';
import { makeBrokenModels, type BrokenModel } from '../support/brokenModels';
import { hostSettings, startHost, type HostProcess } from '../support/hostProcess';
import { fixturesDir, repoRoot } from '../support/fixtures';

const good = {
  ner: join(fixturesDir, 'gpt2-tiny-ner'),
  classification: join(fixturesDir, 'gpt2-tiny-sentiment'),
  lm: join(fixturesDir, 'gpt2-tiny-lm'),
};
const text = 'John Smith flew from Paris to Berlin on Monday.';

function request(host: HostProcess, role: HeadRole): Promise<unknown> {
  switch (role) {
    case 'ner':
      return host.connection.sendRequest(methods.tag, {
        role: 'ner',
        text,
        aggregation_strategy: 'simple',
      });
    case 'classification':
      return host.connection.sendRequest(methods.classify, { text, scope: 'sequence' });
    default:
      return host.connection.sendRequest(methods.generate, {
        prompt: text,
        options: { max_new_tokens: 2 },
      });
  }
}

async function outcome(promise: Promise<unknown>): Promise<ResponseError<unknown> | 'answered'> {
  try {
    await promise;
    return 'answered';
  } catch (error) {
    assert.ok(error instanceof ResponseError, `expected a ResponseError, got ${String(error)}`);
    return error;
  }
}

describe('broken model folders in the host process', function () {
  this.timeout(120_000);
  let root: string;
  let cases: BrokenModel[];
  let host: HostProcess;
  let base: HostSettings;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'gpt2-heads-broken-'));
    cases = makeBrokenModels(root, fixturesDir);
    base = hostSettings(good, { cacheDir: join(root, 'cache') });
    host = await startHost(repoRoot, base);
  });
  after(async () => {
    await host?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('makes at least 20 different broken folders', () => {
    assert.ok(cases.length >= 20, `${cases.length} cases`);
    assert.equal(new Set(cases.map((c) => c.name)).size, cases.length);
  });

  it('answers each broken folder with its own message, stays up and serves a good model after', async () => {
    const failures: string[] = [];
    for (const broken of cases) {
      const settings: HostSettings = {
        ...base,
        dtype: broken.dtype ?? base.dtype,
        models: { ...base.models, [broken.role]: broken.folder },
      };
      await host.connection.sendNotification(methods.configure, settings);
      const result = await outcome(request(host, broken.role));
      if (result === 'answered') {
        if (!broken.mayLoad) failures.push(`${broken.name}: loaded, expected ${broken.message}`);
      } else {
        if (!broken.message.test(result.message))
          failures.push(`${broken.name}: "${result.message}" does not match ${broken.message}`);
        if (result.code !== errorCodes.modelLoadFailed)
          failures.push(`${broken.name}: error code ${result.code}`);
        const status = await host.connection.sendRequest(methods.status);
        const entry = status.models.find((model) => model.source === broken.folder);
        const halfLoaded = entry && entry.state !== 'error' && !broken.healthyModel;
        if (!entry || halfLoaded || (entry.state === 'error' && entry.architecture !== undefined))
          failures.push(`${broken.name}: status lists ${JSON.stringify(entry)}`);
        if (status.models.some((model) => model.state === 'loading'))
          failures.push(`${broken.name}: a model is still loading after the error`);
      }
      if (broken.mustNotExist && existsSync(broken.mustNotExist))
        failures.push(`${broken.name}: ${broken.mustNotExist} was created`);
      assert.equal(host.child.exitCode, null, `the host exited after ${broken.name}`);
      await host.connection.sendNotification(methods.configure, base);
      const recovered = await outcome(request(host, broken.role));
      if (recovered !== 'answered')
        failures.push(`${broken.name}: the good model failed after it: ${recovered.message}`);
    }
    assert.deepEqual(failures, []);
  });

  it('says the model is not on this machine, naming gpt2Heads.offline, for a Hub id offline', async () => {
    const source = 'gpt2-heads-tests/not-downloaded';
    await host.connection.sendNotification(methods.configure, {
      ...base,
      models: { ...base.models, ner: source },
    });
    const result = await outcome(request(host, 'ner'));
    assert.notEqual(result, 'answered');
    assert.match((result as ResponseError<unknown>).message, /"gpt2Heads\.offline" is on/);
  });
});
