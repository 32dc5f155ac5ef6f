import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { api, caseText, closeAll, hostPid, openText, until } from './helpers';

describe('model host faults in the editor', () => {
  afterEach(closeAll);

  it('ends a tagging request cut off by a killed host, says so, and tags again without a reload', async () => {
    const extension = await api();
    const long = Array.from({ length: 30 }, () => caseText('long_text')).join('\n\n');
    const editor = await openText(long);
    const pid = await hostPid();
    const tagging = vscode.commands.executeCommand('gpt2Heads.tagEntities');
    await new Promise((resolve) => setTimeout(resolve, 150));
    process.kill(pid, 'SIGKILL');
    const outcome = await Promise.race([
      Promise.resolve(tagging).then(() => 'settled'),
      new Promise((resolve) => setTimeout(() => resolve('hung'), 30_000)),
    ]);
    assert.equal(outcome, 'settled');
    const spans = await vscode.commands.executeCommand<unknown[]>('gpt2Heads.tagEntities');
    assert.ok(spans && spans.length > 0, 'tagging failed after the restart');
    assert.notEqual(await hostPid(), pid);
    await until(() => extension.hostState() === 'ready', 'the host to be ready');
    assert.match(String(extension.hostStatusBar().tooltip), /stopped unexpectedly/);
    assert.ok(extension.taggedSpans(editor.document.uri, 'ner').length > 0);
  });

  it('stops restarting a host that keeps crashing, says how to recover, and restarts on command', async () => {
    const extension = await api();
    for (let crash = 0; crash < 6 && extension.hostState() !== 'error'; crash++) {
      let pid: number;
      try {
        pid = await hostPid();
      } catch {
        break;
      }
      process.kill(pid, 'SIGKILL');
      // A host on a socket can be back within milliseconds: wait for a new pid, or the guard.
      const deadline = Date.now() + 30_000;
      while (extension.hostState() !== 'error') {
        if (extension.hostState() === 'ready' && (await hostPid().catch(() => pid)) !== pid) break;
        assert.ok(Date.now() < deadline, 'the host neither restarted nor gave up');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    await until(() => extension.hostState() === 'error', 'the host to give up', 20_000);
    assert.match(String(extension.hostStatusBar().tooltip), /Restart Model Host/);
    await vscode.commands.executeCommand('gpt2Heads.restartHost');
    await until(() => extension.hostState() === 'ready', 'the host to be ready after a restart');
    const editor = await openText(caseText('names_places'));
    const spans = await vscode.commands.executeCommand<unknown[]>('gpt2Heads.tagEntities');
    assert.ok(spans && spans.length > 0);
    assert.ok(extension.taggedSpans(editor.document.uri, 'ner').length > 0);
  });
});
