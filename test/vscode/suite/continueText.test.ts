import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { GenerateResult } from '../../../src/protocol';
import { api, closeAll, fixture, openText, setting, until } from './helpers';

interface Greedy {
  prompt: string;
  new_ids: number[];
  new_text: string;
}

describe('Continue Text', () => {
  const greedy = fixture<{ generation: { greedy: Greedy[] } }>('gpt2-tiny-lm', 'expected.json')
    .generation.greedy;
  afterEach(closeAll);

  it('inserts the greedy continuation of the fixture LM after the cursor, as one undoable edit', async () => {
    const expected = greedy[0];
    await setting('generation.maxNewTokens', expected.new_ids.length);
    // The goldens are float32 results; int8 kernels differ by CPU, so compare the fp32 graph.
    await setting('dtype', 'fp32');
    const editor = await openText(expected.prompt);
    const end = editor.document.positionAt(expected.prompt.length);
    editor.selection = new vscode.Selection(end, end);
    let result: GenerateResult;
    try {
      result = await vscode.commands.executeCommand<GenerateResult>('gpt2Heads.continueText');
    } finally {
      await setting('dtype', undefined);
    }
    assert.deepEqual(result.new_token_ids, expected.new_ids);
    assert.equal(editor.document.getText(), expected.prompt + expected.new_text);
    await vscode.commands.executeCommand('undo');
    assert.equal(editor.document.getText(), expected.prompt);
  });

  it('shows the host as ready in the status bar once it has answered', async () => {
    const extension = await api();
    await until(() => extension.hostState() === 'ready', 'the host to be ready');
    assert.equal(extension.hostStatusBar().text, '$(check) GPT-2');
  });

  it('recovers after the model host is killed: the next request is answered', async () => {
    const extension = await api();
    const status = await vscode.commands.executeCommand<{ pid: number }>(
      'gpt2Heads.showModelStatus',
    );
    await vscode.commands.executeCommand('workbench.action.closeQuickOpen');
    process.kill(status.pid, 'SIGKILL');
    await until(() => extension.hostState() !== 'ready', 'the host to be seen as stopped', 10_000);
    const expected = greedy[1];
    await setting('generation.maxNewTokens', 5);
    const editor = await openText(expected.prompt);
    const end = editor.document.positionAt(expected.prompt.length);
    editor.selection = new vscode.Selection(end, end);
    const result = await vscode.commands.executeCommand<GenerateResult | undefined>(
      'gpt2Heads.continueText',
    );
    assert.ok(result, 'Continue Text failed after the restart');
    assert.deepEqual(result.new_token_ids, expected.new_ids.slice(0, 5));
  });
});
