import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { GenerateResult } from '../../../src/protocol';
import { api, closeAll, openText, repoRoot, setting } from './helpers';

interface Step {
  id: string;
  description: string;
}

const walkthrough = (
  JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
    contributes: { walkthroughs: { steps: Step[] }[] };
  }
).contributes.walkthroughs[0];

/** The first command link of a step, as VS Code runs it: id and JSON arguments. */
function commandLink(step: Step): [string, unknown[]] {
  const match = /\(command:([\w.]+)(?:\?([^)]*))?\)/.exec(step.description);
  if (!match) throw new Error(`no command link in step ${step.id}`);
  return [match[1], match[2] ? (JSON.parse(decodeURIComponent(match[2])) as unknown[]) : []];
}

describe('the walkthrough', () => {
  afterEach(async () => {
    await setting('generation.maxNewTokens', undefined);
    await closeAll();
  });

  it('"Continue the text" writes into the sample document, not the editor that has focus', async () => {
    await setting('generation.maxNewTokens', 8);
    const sample = await vscode.commands.executeCommand<vscode.TextEditor>(
      'gpt2Heads.openWalkthroughSample',
    );
    const original = sample.document.getText();
    const other = await openText('Another file, with the cursor mid-line.');
    other.selection = new vscode.Selection(0, 7, 0, 7);
    const [command, args] = commandLink(walkthrough.steps.find((s) => s.id === 'continueText')!);
    const result = await vscode.commands.executeCommand<GenerateResult>(command, ...args);
    assert.equal(other.document.getText(), 'Another file, with the cursor mid-line.');
    const end = original.trimEnd().length;
    assert.equal(
      sample.document.getText(),
      original.slice(0, end) + result.new_text + original.slice(end),
    );
  });

  it('"Tag entities" tags the sample document, not the editor that has focus', async () => {
    const extension = await api();
    const sample = await vscode.commands.executeCommand<vscode.TextEditor>(
      'gpt2Heads.openWalkthroughSample',
    );
    const other = await openText('Ada Lovelace met Charles Babbage in London.');
    const [command, args] = commandLink(walkthrough.steps.find((s) => s.id === 'tagEntities')!);
    await vscode.commands.executeCommand(command, ...args);
    assert.ok(extension.taggedSpans(sample.document.uri, 'ner').length > 0);
    assert.equal(extension.taggedSpans(other.document.uri).length, 0);
  });

  it('opening the sample again shows the same document, not a second copy', async () => {
    const first = await vscode.commands.executeCommand<vscode.TextEditor>(
      'gpt2Heads.openWalkthroughSample',
    );
    await openText('Something else.');
    const second = await vscode.commands.executeCommand<vscode.TextEditor>(
      'gpt2Heads.openWalkthroughSample',
    );
    assert.equal(second.document, first.document);
    const copies = vscode.workspace.textDocuments.filter(
      (d) => !d.isClosed && d.getText() === first.document.getText(),
    );
    assert.equal(copies.length, 1);
  });

  it('shows no literal backticks in its steps and no line too wide for its media pane', () => {
    for (const step of walkthrough.steps) {
      assert.doesNotMatch(step.description, /`/, `step ${step.id} shows backticks`);
    }
    // A table is as wide as the longest unbreakable word of each column together (a Hub id,
    // a setting in backticks); past ~70 characters the walkthrough's media pane (about half of
    // a 1400 px window) cuts it off.
    const media = join(repoRoot, 'media', 'walkthrough');
    for (const name of readdirSync(media).filter((n) => n.endsWith('.md'))) {
      const rows = readFileSync(join(media, name), 'utf8')
        .split('\n')
        .filter((line) => line.startsWith('|') && !/^\|[-| :]+\|$/.test(line))
        .map((line) => line.slice(1, -1).split('|'));
      const widest: number[] = [];
      for (const cells of rows) {
        cells.forEach((cell, i) => {
          const word = Math.max(...cell.split(/\s+/).map((w) => w.replace(/[`*]/g, '').length));
          widest[i] = Math.max(widest[i] ?? 0, word);
        });
      }
      const width = widest.reduce((sum, w) => sum + w, 0);
      assert.ok(width <= 70, `${name}: a table at least ${width} characters wide`);
    }
  });
});
