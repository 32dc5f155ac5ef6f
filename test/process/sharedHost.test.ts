import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { privateFolder, socketPath } from '../../src/client/sharedHost';
import { methods, type TagResult } from '../../src/protocol';
import { hostSettings } from '../support/hostProcess';
import { fixtureModels, repoRoot } from '../support/fixtures';
import { joinSharedHost, type SharedHostClient } from '../support/sharedHostClient';

const text = 'Hugging Face is based in New York City. Sarah Connor met Barack Obama in Paris.';
const settings = hostSettings({ ner: fixtureModels.ner });
const env = { ...process.env, GPT2_HEADS_HOST_IDLE_MS: '1500' };

function tag(client: SharedHostClient): Promise<TagResult> {
  return client.connection.sendRequest(methods.tag, {
    role: 'ner',
    text,
    aggregation_strategy: 'simple',
  }) as Promise<TagResult>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('the shared model host', function () {
  this.timeout(90_000);
  let folder: string;
  const clients: SharedHostClient[] = [];
  const connectWindow = async (tag = 'test-1') => {
    const client = await joinSharedHost(repoRoot, settings, { tag, folder, env });
    clients.push(client);
    return client;
  };

  beforeEach(() => {
    folder = mkdtempSync(join(tmpdir(), 'gpt2-heads-shared-'));
    chmodSync(folder, 0o700);
  });
  afterEach(async () => {
    const pids = await Promise.all(clients.map((client) => client.pid().catch(() => -1)));
    for (const client of clients.splice(0)) client.crash();
    for (const pid of new Set(pids)) if (pid > 0 && alive(pid)) process.kill(pid, 'SIGKILL');
  });

  it('serves two windows from one process: one crashes, the other keeps working', async () => {
    const first = await connectWindow();
    const second = await connectWindow();
    const pid = await first.pid();
    assert.equal(await second.pid(), pid, 'both windows talk to the same host');
    const [a, b] = await Promise.all([tag(first), tag(second)]);
    assert.ok(a.spans.length > 0);
    assert.deepEqual(b.spans, a.spans);

    first.crash();
    const again = await tag(second);
    assert.deepEqual(again.spans, a.spans);
    assert.equal(await second.pid(), pid, 'the host outlives the window that crashed');
  });

  it('loads a model once for every window with the same settings', async () => {
    const first = await connectWindow();
    await tag(first);
    const second = await connectWindow();
    const before = await second.connection.sendRequest(methods.status);
    const result = await tag(second);
    assert.equal(before.models.length, 1, 'the second window sees the model already loaded');
    assert.equal(before.models[0].state, 'ready');
    assert.ok(result.cachedWindows > 0, 'the second window reuses the first one’s windows');
  });

  it('gives a window of another extension version its own host', async () => {
    const current = await connectWindow('1.0.0-aaaa');
    const updated = await connectWindow('1.1.0-bbbb');
    assert.notEqual(await current.pid(), await updated.pid());
    assert.ok((await tag(updated)).spans.length > 0);
  });

  it('exits a while after the last window has left', async () => {
    const first = await connectWindow();
    const second = await connectWindow();
    const pid = await first.pid();
    await first.leave();
    assert.ok((await tag(second)).spans.length > 0, 'one window leaving ends nothing');
    await second.leave();
    clients.splice(0);
    await until(() => !alive(pid), 'the idle host to exit');
  });

  it('restarts for every window after it is killed, over the stale socket', async () => {
    const first = await connectWindow();
    const pid = await first.pid();
    process.kill(pid, 'SIGKILL');
    await until(() => !alive(pid), 'the host to die');
    const next = await connectWindow();
    const newPid = await next.pid();
    assert.notEqual(newPid, pid);
    assert.ok((await tag(next)).spans.length > 0);
  });

  it('listens on a socket only its user can open', async function () {
    const client = await connectWindow();
    await client.pid();
    const path = socketPath('test-1', folder);
    assert.equal(statSync(path).mode & 0o777, 0o600, 'socket mode');
    assert.equal(statSync(folder).mode & 0o777, 0o700, 'folder mode');
    if (process.getuid?.() === 0) {
      // Another user (nobody) tries to connect.
      const probe = spawnSync(
        process.execPath,
        [
          '-e',
          `require('net').connect(${JSON.stringify(path)})` +
            `.on('connect', () => { console.log('connected'); process.exit(0); })` +
            `.on('error', (e) => { console.log(e.code); process.exit(0); });`,
        ],
        { uid: 65534, gid: 65534, encoding: 'utf8', timeout: 10_000 },
      );
      assert.match(probe.stdout.trim(), /^(EACCES|EPERM)$/, probe.stdout + probe.stderr);
    }
  });

  it('refuses a socket folder that other users can open', () => {
    const runtime = mkdtempSync(join(tmpdir(), 'gpt2-heads-runtime-'));
    mkdirSync(join(runtime, 'gpt2-heads'), { mode: 0o755 });
    chmodSync(join(runtime, 'gpt2-heads'), 0o755);
    const saved = process.env.XDG_RUNTIME_DIR;
    process.env.XDG_RUNTIME_DIR = runtime;
    try {
      assert.throws(() => privateFolder(), /not a private folder.*0700/s);
    } finally {
      if (saved === undefined) delete process.env.XDG_RUNTIME_DIR;
      else process.env.XDG_RUNTIME_DIR = saved;
    }
  });
});
