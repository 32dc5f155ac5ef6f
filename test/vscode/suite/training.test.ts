import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { TrainResult } from '../../../src/protocol';
import { api, closeAll, fixturesDir, openText, repoRoot, setting, until } from './helpers';

describe('Train a Head from Labelled Data', function () {
  this.timeout(120_000);
  after(async () => {
    await setting('pos.model', undefined);
    await setting('tagging.aggregationStrategy', undefined);
    await closeAll();
  });

  it('trains a POS head from a CoNLL-U file in the workspace, and the new head tags the document', async () => {
    const extension = await api();
    const workspace = vscode.workspace.workspaceFolders?.[0]?.uri;
    assert.ok(workspace, 'the tests run in a workspace');
    const data = vscode.Uri.joinPath(workspace, 'pos-sample.conllu');
    await vscode.workspace.fs.writeFile(
      data,
      readFileSync(join(repoRoot, 'test', 'fixtures', 'training', 'pos-train.conllu')),
    );
    const out = vscode.Uri.joinPath(workspace, 'pos-head');
    const result = await vscode.commands.executeCommand<TrainResult | undefined>(
      'gpt2Heads.trainHead',
      {
        task: 'token-classification',
        model: join(fixturesDir, 'gpt2-tiny-base'),
        train: data.fsPath,
        validation: '',
        out: out.fsPath,
        use: 'pos',
      },
    );
    assert.ok(result, 'the command returned no result');
    assert.equal(result.folder, out.fsPath);
    assert.ok(result.report.validation.accuracy > result.report.baseline.validation.accuracy);
    // The results view: the report as Markdown beside the model, with its confusion matrix.
    const markdown = new TextDecoder().decode(
      await vscode.workspace.fs.readFile(vscode.Uri.joinPath(out, 'training_report.md')),
    );
    assert.match(markdown, /## Confusion matrix/);
    const config = vscode.workspace.getConfiguration('gpt2Heads');
    assert.equal(config.get<string>('pos.model'), out.fsPath);
    // Words are read at their first token, where the head learnt their labels.
    assert.equal(config.get<string>('tagging.aggregationStrategy'), 'first');

    const editor = await openText('The old teacher often reads a green book near the river.');
    await vscode.commands.executeCommand('gpt2Heads.tagPartsOfSpeech');
    const spans = await until(() => {
      const tagged = extension.taggedSpans(editor.document.uri, 'pos');
      return tagged.length > 0 && tagged;
    }, 'POS tags from the new head');
    const labels = new Set(result.report.labels);
    assert.ok(
      spans.every((span) => labels.has(span.label)),
      spans.map((s) => s.label).join(' '),
    );
    // With "first", whole words get labels: no span starts inside a word (a span may begin
    // with the word's leading space, which its first token carries).
    const text = editor.document.getText();
    for (const span of spans) {
      const start = editor.document.offsetAt(span.range.start);
      if (/\s/.test(text[start])) continue;
      assert.ok(
        start === 0 || !/\w/.test(text[start - 1]),
        `a span starts inside a word at ${start}`,
      );
    }
  });
});
