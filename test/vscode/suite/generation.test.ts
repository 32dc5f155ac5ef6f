import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { GenerateResult } from '../../../src/protocol';
import { api, closeAll, openText, setting, until } from './helpers';

describe('inline suggestions and generation commands', () => {
  afterEach(async () => {
    await setting('inline.enabled', undefined);
    await closeAll();
  });

  it('suggests the LM continuation inline and accepting it inserts exactly that text', async () => {
    const extension = await api();
    await setting('inline.enabled', true);
    await setting('inline.stopAt', 'none');
    await setting('inline.maxNewTokens', 6);
    const prompt = 'Once upon a time, in a small village near Paris,';
    const editor = await openText(prompt);
    const end = editor.document.positionAt(prompt.length);
    editor.selection = new vscode.Selection(end, end);
    await vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
    const request = await until(() => extension.lastInlineSuggestion(), 'an inline suggestion');
    assert.equal(request.prefix, prompt);
    assert.ok(request.suggestion.length > 0, 'the suggestion is empty');
    // The same continuation the host gives for Continue Text with as many tokens.
    await setting('generation.maxNewTokens', 6);
    const direct = await vscode.commands.executeCommand<GenerateResult>('gpt2Heads.continueText');
    assert.equal(direct.new_text, request.suggestion);
    await setting('inline.stopAt', undefined);
    await setting('inline.maxNewTokens', undefined);
  });

  it('answers from the suggestion cache when the user types along the suggestion', async () => {
    const extension = await api();
    await setting('inline.enabled', true);
    await setting('inline.stopAt', 'none');
    const prompt = 'The quick brown fox';
    const editor = await openText(prompt);
    const end = editor.document.positionAt(prompt.length);
    editor.selection = new vscode.Selection(end, end);
    await vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
    const first = await until(() => extension.lastInlineSuggestion(), 'an inline suggestion');
    const typed = first.suggestion.slice(0, 3);
    await editor.edit((edit) => edit.insert(editor.document.positionAt(prompt.length), typed));
    const after = editor.document.positionAt(prompt.length + typed.length);
    editor.selection = new vscode.Selection(after, after);
    await vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
    const second = await until(() => {
      const last = extension.lastInlineSuggestion();
      return last && last.prefix === prompt + typed ? last : undefined;
    }, 'a suggestion after typing along');
    assert.equal(second.cached, true);
    assert.equal(second.suggestion, first.suggestion.slice(3));
    await setting('inline.stopAt', undefined);
  });

  it('summarizes the selection with the TL;DR: prompt, streaming into one undoable edit', async () => {
    await setting('generation.maxSummaryTokens', 8);
    const text = 'Marie Curie was born in Warsaw. She moved to Paris to study physics.';
    const editor = await openText(text);
    editor.selection = new vscode.Selection(
      editor.document.positionAt(0),
      editor.document.positionAt(text.length),
    );
    const result = await vscode.commands.executeCommand<GenerateResult>(
      'gpt2Heads.summarizeSelection',
    );
    assert.equal(result.generated_text, `${text}\n\nTL;DR:${result.new_text}`);
    assert.equal(editor.document.getText(), `${text}\n${result.new_text}`);
    await vscode.commands.executeCommand('undo');
    assert.equal(editor.document.getText(), text);
    await setting('generation.maxSummaryTokens', undefined);
  });

  it('transforms the selection with a template from the settings', async () => {
    const text = 'Good morning';
    const editor = await openText(text);
    editor.selection = new vscode.Selection(
      editor.document.positionAt(0),
      editor.document.positionAt(text.length),
    );
    const result = await vscode.commands.executeCommand<GenerateResult>(
      'gpt2Heads.transformSelection',
      'English to French',
    );
    assert.ok(result.generated_text.startsWith('English: Good morning\nFrench:'));
    assert.equal(editor.document.getText(), `${text}\n${result.new_text}`);
  });
});
