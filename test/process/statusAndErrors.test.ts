// The host's structured side of failures and state, against the real process: every failed
// request carries { kind, setting, model, role } in ResponseError.data, and the host pushes a
// serverStatus notification (health, quiescence, models) whenever its state changes.
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ResponseError } from 'vscode-jsonrpc/node';
import { methods, windowProgress, type ErrorData, type ServerStatus } from '../../src/protocol';
import { hostSettings, startHost, type HostProcess } from '../support/hostProcess';
import { fixtureModels, repoRoot } from '../support/fixtures';

async function errorData(promise: Promise<unknown>): Promise<{ message: string; data: ErrorData }> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ResponseError, `expected a ResponseError, got ${String(error)}`);
    return { message: error.message, data: error.data as ErrorData };
  }
  assert.fail('the request succeeded but should have failed');
}

const text = 'John Smith flew from Paris to Berlin on Monday.';
const missing = join(tmpdir(), 'gpt2-heads-no-such-ner-model');

describe('structured errors and the status notification of the host process', function () {
  this.timeout(60_000);
  let host: HostProcess;
  const statuses: ServerStatus[] = [];

  async function nextStatus(test: (status: ServerStatus) => boolean): Promise<ServerStatus> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const found = statuses.find(test);
      if (found) return found;
      if (Date.now() > deadline) {
        assert.fail(`no such status among ${JSON.stringify(statuses, null, 1)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  before(async () => {
    host = await startHost(
      repoRoot,
      hostSettings({ ner: missing, classification: fixtureModels.classification }),
    );
    host.connection.onNotification(methods.serverStatus, (status) => {
      statuses.push(status);
    });
  });
  after(() => host?.stop());

  it('names the head, its setting and the folder of a missing model folder', async () => {
    const { message, data } = await errorData(
      host.connection.sendRequest(methods.tag, {
        role: 'ner',
        text,
        aggregation_strategy: 'simple',
      }),
    );
    assert.deepEqual(data, {
      kind: 'missingFolder',
      model: missing,
      role: 'ner',
      setting: 'gpt2Heads.ner.model',
    });
    assert.match(message, /does not exist/);
    assert.match(message, /"gpt2Heads\.ner\.model"/);
  });

  it('says which setting to fill for a head without a model', async () => {
    const { data } = await errorData(
      host.connection.sendRequest(methods.answer, { question: 'Who?', context: text }),
    );
    assert.deepEqual(data, { kind: 'notConfigured', role: 'qa', setting: 'gpt2Heads.qa.model' });
  });

  it('points an offline Hub id at gpt2Heads.offline, not at the model setting', async () => {
    await host.connection.sendNotification(methods.configure, {
      ...hostSettings({ ner: 'gpt2-heads-tests/not-downloaded' }),
    });
    const { data } = await errorData(
      host.connection.sendRequest(methods.tag, {
        role: 'ner',
        text,
        aggregation_strategy: 'simple',
      }),
    );
    assert.equal(data.kind, 'offline');
    assert.equal(data.setting, 'gpt2Heads.offline');
    assert.equal(data.role, 'ner');
    assert.equal(data.model, 'gpt2-heads-tests/not-downloaded');
  });

  it('marks a request that cannot be answered as bad input', async () => {
    await host.connection.sendNotification(
      methods.configure,
      hostSettings({ classification: fixtureModels.classification }),
    );
    const { data } = await errorData(
      host.connection.sendRequest(methods.classify, { text: '', scope: 'sequence' }),
    );
    assert.equal(data.kind, 'badInput');
  });

  it('pushes health "error" naming the failed model, then "ok" once the setting is fixed', async () => {
    statuses.length = 0;
    await host.connection.sendNotification(
      methods.configure,
      hostSettings({ ner: missing, classification: fixtureModels.classification }),
    );
    await errorData(
      host.connection.sendRequest(methods.tag, {
        role: 'ner',
        text,
        aggregation_strategy: 'simple',
      }),
    );
    const failed = await nextStatus((status) => status.health === 'error');
    assert.match(failed.message ?? '', /does not exist/);
    assert.deepEqual(
      failed.models.find((model) => model.source === missing)?.roles,
      ['ner'],
      'the failed model is listed with the head that uses it',
    );
    statuses.length = 0;
    await host.connection.sendNotification(
      methods.configure,
      hostSettings({ ner: fixtureModels.ner, classification: fixtureModels.classification }),
    );
    await host.connection.sendRequest(methods.tag, {
      role: 'ner',
      text,
      aggregation_strategy: 'simple',
    });
    const healthy = await nextStatus(
      (status) =>
        status.health === 'ok' &&
        status.quiescent &&
        status.models.some(
          (model) => model.source === fixtureModels.ner && model.state === 'ready',
        ),
    );
    assert.equal(healthy.message, undefined);
  });

  it('is not quiescent while a request runs, and reports its windows as work-done progress', async () => {
    statuses.length = 0;
    // Lines of their own: the host caches windows by content, and must really run these.
    const long = Array.from({ length: 120 }, (_, i) => `${i}. ${text}`).join('\n');
    const windows: { done: number; total: number }[] = [];
    const token = 'windows-1';
    const listener = host.connection.onProgress(windowProgress, token, (progress) => {
      windows.push(progress);
    });
    await host.connection.sendRequest(methods.classify, {
      text: long,
      scope: 'document',
      workDoneToken: token,
    });
    listener.dispose();
    await nextStatus((status) => !status.quiescent);
    await nextStatus((status) => status.quiescent);
    assert.ok(windows.length >= 2, `only ${windows.length} progress reports`);
    const last = windows[windows.length - 1];
    assert.equal(last.done, last.total);
    assert.ok(windows.every((w, i) => i === 0 || w.done > windows[i - 1].done));
  });
});
