import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { GenerateResult } from '../../../src/protocol';
import { closeAll, openText, setting } from './helpers';

/** Resolves on the first change of the document after `skip` changes. */
function nextChange(document: vscode.TextDocument, skip = 0): Promise<void> {
  return new Promise((done) => {
    let seen = 0;
    const listener = vscode.workspace.onDidChangeTextDocument((event) => {
      if (event.document !== document || event.contentChanges.length === 0) return;
      if (seen++ < skip) return;
      listener.dispose();
      done();
    });
  });
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

describe('editing while text streams', () => {
  afterEach(async () => {
    await setting('generation.maxNewTokens', undefined);
    await setting('generation.maxSummaryTokens', undefined);
    await vscode.workspace
      .getConfiguration('editor')
      .update('wordWrap', undefined, vscode.ConfigurationTarget.Global);
    await closeAll();
  });

  const selectionCommands: [string, unknown[]][] = [
    ['gpt2Heads.summarizeSelection', []],
    ['gpt2Heads.transformSelection', ['English to French']],
  ];
  for (const [command, args] of selectionCommands) {
    it(`${command}: typing stops the stream, keeps the user's text and nothing is written after`, async () => {
      await setting('generation.maxSummaryTokens', 100);
      const text = 'Marie Curie was born in Warsaw. She moved to Paris to study physics.';
      const editor = await openText(`${text}\n\nA second paragraph.`);
      const { document } = editor;
      editor.selection = new vscode.Selection(0, 0, 0, text.length);
      // The line break after the selection, then the first generated piece.
      const streaming = nextChange(document, 1);
      const running = vscode.commands.executeCommand<GenerateResult | undefined>(command, ...args);
      await streaming;
      await vscode.commands.executeCommand('type', { text: 'X' });
      const afterTyping = document.getText();
      const result = await running;
      await sleep(500);
      assert.equal(result, undefined, 'the generation went on after the keystroke');
      assert.ok(
        document.getText().startsWith(`${text}\n`),
        `the selected text was replaced: ${JSON.stringify(document.getText())}`,
      );
      assert.ok(document.getText().endsWith('\n\nA second paragraph.'));
      assert.equal(document.getText().split('X').length, 2, 'the keystroke is not in the text');
      assert.equal(document.getText(), afterTyping, 'text was written after the keystroke');
    });
  }

  it('keeps writing Continue Text into its document when the user switches tabs, without an error', async () => {
    await setting('generation.maxNewTokens', 60);
    const prompt = 'Once upon a time, in a small village near Paris,';
    const editor = await openText(prompt);
    const { document } = editor;
    const end = document.positionAt(prompt.length);
    editor.selection = new vscode.Selection(end, end);
    const streaming = nextChange(document);
    const running = vscode.commands.executeCommand<GenerateResult | undefined>(
      'gpt2Heads.continueText',
    );
    await streaming;
    const other = await openText('Another document.');
    const result = await running;
    assert.ok(result, 'Continue Text stopped with an error');
    assert.equal(document.getText(), prompt + result.new_text);
    assert.equal(other.document.getText(), 'Another document.');
  });

  it('stops Continue Text quietly when its document is closed', async () => {
    await setting('generation.maxNewTokens', 60);
    const prompt = 'Once upon a time, in a small village near Paris,';
    const editor = await openText(prompt);
    const end = editor.document.positionAt(prompt.length);
    editor.selection = new vscode.Selection(end, end);
    const streaming = nextChange(editor.document);
    const running = vscode.commands.executeCommand<GenerateResult | undefined>(
      'gpt2Heads.continueText',
    );
    await streaming;
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
    assert.equal(await running, undefined);
  });

  it('moves the cursor and the view along with the streamed text', async () => {
    await setting('generation.maxNewTokens', 120);
    await vscode.workspace
      .getConfiguration('editor')
      .update('wordWrap', 'on', vscode.ConfigurationTarget.Global);
    const lines = Array.from({ length: 120 }, (_, i) => `Line ${i + 1} of the story.`);
    const editor = await openText(lines.join('\n'));
    const { document } = editor;
    const end = document.positionAt(document.getText().length);
    editor.selection = new vscode.Selection(end, end);
    // Scrolled so that the last line is at the bottom of the view.
    editor.revealRange(new vscode.Range(end, end), vscode.TextEditorRevealType.Default);
    await sleep(300);
    const result = await vscode.commands.executeCommand<GenerateResult>('gpt2Heads.continueText');
    await sleep(300);
    const shown = vscode.window.activeTextEditor!;
    const textEnd = document.positionAt(document.getText().length);
    assert.ok(result.new_text.length > 0);
    assert.ok(shown.selection.active.isEqual(textEnd), 'the cursor is not after the new text');
    assert.ok(
      shown.visibleRanges.some((range) => range.contains(textEnd)),
      `the end of the text (line ${textEnd.line}) is off-screen: ${JSON.stringify(shown.visibleRanges)}`,
    );
  });
});
