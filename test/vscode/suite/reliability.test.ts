import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { ServerStatus } from '../../../src/protocol';
import { api, caseText, closeAll, hostPid, hostStatus, openText, until } from './helpers';

describe('model host faults in the editor', () => {
  afterEach(closeAll);

  it('ends a tagging request cut off by a killed host, says so, tags again without a reload, and forgets the crash after a healthy minute', async function () {
    this.timeout(180_000);
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
    // Once the host has run for a minute without trouble, the crash is no longer mentioned.
    const back = Date.now();
    await until(
      () => !/stopped unexpectedly/.test(String(extension.hostStatusBar().tooltip)),
      'the crash notice to be forgotten after a healthy minute',
      120_000,
    );
    assert.ok(Date.now() - back > 30_000, 'the crash notice went before the host had run a while');
  });

  it('restarts the host again and again and hears each host status once, its documents sent anew', async () => {
    const extension = await api();
    const editor = await openText(caseText('names_places'));
    let pid = await hostPid();
    for (let restart = 0; restart < 3; restart++) {
      await vscode.commands.executeCommand('gpt2Heads.restartHost');
      // Each restart starts a new host (the old one may take a moment to let go of its socket).
      const deadline = Date.now() + 30_000;
      let status = await hostStatus().catch(() => undefined);
      while (!status || status.pid === pid || extension.hostState() !== 'ready') {
        assert.ok(Date.now() < deadline, 'no new host after "Restart Model Host"');
        await new Promise((resolve) => setTimeout(resolve, 100));
        status = await hostStatus().catch(() => undefined);
      }
      assert.equal(status.clients, 1, 'the new host serves this window once');
      pid = status.pid;
    }
    const heard: ServerStatus[] = [];
    const listening = extension.onDidChangeHostStatus((status) => heard.push(status));
    try {
      // The new host knows no documents: an edit and a tag request bring it this one again.
      await editor.edit((edit) => edit.insert(new vscode.Position(0, 0), 'Ada met Grace. '));
      const spans = await vscode.commands.executeCommand<unknown[]>('gpt2Heads.tagEntities');
      assert.ok(spans && spans.length > 0, 'tagging failed after the restarts');
      assert.equal(extension.taggedVersion(editor.document.uri, 'ner'), editor.document.version);
      await until(
        () => heard.some((status) => !status.quiescent) && heard.at(-1)?.quiescent,
        'the host to say it was busy, then quiescent',
      );
    } finally {
      listening.dispose();
    }
    // The host never sends the same status twice in a row: a status heard twice was handled by
    // two handlers, one of them left over from an earlier language client.
    for (let i = 1; i < heard.length; i++) {
      assert.notDeepEqual(heard[i], heard[i - 1], `status ${i} was handled twice`);
    }
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
