import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { ClassifyResult } from '../../../src/protocol';
import type { AskResult } from '../../../src/client/questionAnswering';
import type { ChoiceOutcome } from '../../../src/client/multipleChoice';
import { api, caseText, closeAll, fixture, openText, setting } from './helpers';

describe('classification in the status bar', () => {
  afterEach(closeAll);

  it("shows the sentiment head's top label and score for the selection", async () => {
    const extension = await api();
    const expected = fixture<{
      cases: { id: string; scores: { label: string; score: number }[] }[];
    }>('gpt2-tiny-sentiment', 'expected.json').cases.find((c) => c.id === 'names_places')!;
    const text = caseText('names_places');
    const editor = await openText(`${text}\n\nSomething else entirely.`);
    editor.selection = new vscode.Selection(
      editor.document.positionAt(0),
      editor.document.positionAt(text.length),
    );
    const result = await vscode.commands.executeCommand<ClassifyResult>(
      'gpt2Heads.classifySelection',
    );
    assert.equal(result.labels[0].label, expected.scores[0].label);
    assert.ok(Math.abs(result.labels[0].score - expected.scores[0].score) < 1e-4);
    assert.equal(
      extension.classificationStatus('sequence'),
      `$(tag) ${expected.scores[0].label} ${expected.scores[0].score.toFixed(2)}`,
    );
  });

  it('classifies a long document as a whole and says how many windows it read', async () => {
    const long = caseText('long_text');
    await openText(`${long}\n\n${long}\n\n${long}`);
    const result = await vscode.commands.executeCommand<ClassifyResult>(
      'gpt2Heads.classifyDocument',
    );
    assert.ok(result.windows >= 3, `read ${result.windows} windows`);
    assert.equal(result.labels.length, 2);
  });

  it('falls back to zero-shot with the LM when no classifier is set, and says so', async () => {
    const extension = await api();
    await setting('classification.model', '');
    await setting('zeroShot.labels', ['sports', 'politics']);
    try {
      await openText('The match ended two to one after extra time.');
      const result = await vscode.commands.executeCommand<ClassifyResult>(
        'gpt2Heads.classifySelection',
      );
      assert.equal(result.zeroShot, true);
      assert.match(extension.classificationStatus('sequence') ?? '', /\(zero-shot\)$/);
    } finally {
      await setting('classification.model', undefined);
      await setting('zeroShot.labels', undefined);
    }
  });
});

describe('question answering and multiple choice', () => {
  afterEach(closeAll);

  it('highlights and selects the answer span the QA pipeline gives', async () => {
    const qa = fixture<{
      cases: {
        id: string;
        question: string;
        context: string;
        runs: {
          top_k: number;
          handle_impossible_answer: boolean;
          answers: { answer: string; start_utf16: number; end_utf16: number }[];
        }[];
      }[];
    }>('gpt2-tiny-qa', 'expected.json').cases[0];
    const best = qa.runs.find((r) => r.top_k === 3 && !r.handle_impossible_answer)!.answers[0];
    const prefix = 'Notes:\n';
    const editor = await openText(prefix + qa.context);
    editor.selection = new vscode.Selection(
      editor.document.positionAt(prefix.length),
      editor.document.positionAt(prefix.length + qa.context.length),
    );
    const result = await vscode.commands.executeCommand<AskResult>('gpt2Heads.askQuestion', {
      question: qa.question,
    });
    assert.equal(result.answers[0].answer, best.answer);
    // Selected without the space the answer's first token carries.
    const leading = best.answer.length - best.answer.trimStart().length;
    const trailing = best.answer.length - best.answer.trimEnd().length;
    assert.equal(
      editor.document.offsetAt(editor.selection.start),
      prefix.length + best.start_utf16 + leading,
    );
    assert.equal(
      editor.document.offsetAt(editor.selection.end),
      prefix.length + best.end_utf16 - trailing,
    );
  });

  it('gives every option its probability and ranks them with the double-heads model', async () => {
    const editor = await openText(
      'The chef tasted the soup and\nA) added more salt.\nB) flew to the moon.\nC) smiled happily.',
    );
    editor.selection = new vscode.Selection(0, 0, 3, 19);
    const result = await vscode.commands.executeCommand<ChoiceOutcome>(
      'gpt2Heads.chooseBestOption',
    );
    assert.equal(result.method, 'double-heads');
    assert.deepEqual(
      result.options.map((o) => o.line),
      [1, 2, 3],
    );
    const total = result.options.reduce((sum, o) => sum + o.score, 0);
    assert.ok(Math.abs(total - 1) < 1e-6);
  });
});
