import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { AskResult } from '../../../src/client/questionAnswering';
import type { ChoiceOutcome } from '../../../src/client/multipleChoice';
import { api, closeAll, openText } from './helpers';

const context =
  'Marie Curie was born in Warsaw in 1867. She moved to Paris to study physics and chemistry at the Sorbonne.';
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

describe('answers and options as the user sees them', () => {
  afterEach(async () => {
    await vscode.commands.executeCommand('workbench.action.closeQuickOpen');
    await closeAll();
  });

  it('asks the next question in the same scope, not in the answer the extension selected', async () => {
    const editor = await openText(context);
    const whole = new vscode.Range(
      editor.document.positionAt(0),
      editor.document.positionAt(context.length),
    );
    const first = await vscode.commands.executeCommand<AskResult>('gpt2Heads.askQuestion', {
      question: 'Where was Marie Curie born?',
    });
    assert.ok(first.scope.isEqual(whole));
    assert.ok(editor.selection.isEqual(first.ranges[0]), 'the answer is not selected');
    const second = await vscode.commands.executeCommand<AskResult>('gpt2Heads.askQuestion', {
      question: 'What did she study?',
    });
    assert.ok(second.scope.isEqual(whole), `searched only ${JSON.stringify(second.scope)}`);
  });

  it('highlights answers without surrounding spaces and shows scores that tell them apart', async () => {
    const extension = await api();
    const editor = await openText(context);
    const result = await vscode.commands.executeCommand<AskResult>('gpt2Heads.askQuestion', {
      question: 'Where was Marie Curie born?',
    });
    // The pipeline's answers start with the space before the word (byte-level tokens).
    assert.ok(result.answers.some((a) => a.answer !== a.answer.trim()));
    for (const range of result.ranges) {
      const text = editor.document.getText(range);
      assert.equal(text, text.trim());
    }
    const [highlight] = extension.shownDecorations(editor.document.uri).answer;
    assert.ok(highlight.isEqual(result.ranges[0]));
    const distinct = new Set(result.answers.map((a) => a.score)).size;
    assert.ok(distinct > 1, 'the answers have equal scores: nothing to tell apart');
    assert.equal(new Set(result.scores).size, distinct, result.scores.join(', '));
    for (const score of result.scores) assert.match(score, /^\d+\.\d+%$/);
  });

  it('does not ask the last question again when Enter is pressed on an empty input', async () => {
    await openText(context);
    await vscode.commands.executeCommand('gpt2Heads.askQuestion', {
      question: 'Where was Marie Curie born?',
    });
    let settled = false;
    const asking = Promise.resolve(
      vscode.commands.executeCommand<AskResult | undefined>('gpt2Heads.askQuestion'),
    ).finally(() => (settled = true));
    await sleep(1000);
    await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
    await sleep(1500);
    assert.equal(settled, false, 'Enter on the empty input asked a question');
    await vscode.commands.executeCommand('workbench.action.closeQuickOpen');
    assert.equal(await asking, undefined);
  });

  it("clears the options' percentages when the options are edited", async () => {
    const extension = await api();
    const editor = await openText(
      'The chef tasted the soup and\nA) added more salt.\nB) flew to the moon.\nC) smiled happily.\n\nNotes below.',
    );
    editor.selection = new vscode.Selection(0, 0, 3, 19);
    const result = await vscode.commands.executeCommand<ChoiceOutcome>(
      'gpt2Heads.chooseBestOption',
    );
    assert.equal(result.options.length, 3);
    const shown = () => extension.shownDecorations(editor.document.uri)['choice.scores'];
    assert.equal(shown()?.length, 3);
    // An edit elsewhere leaves them; an edit of an option clears them.
    await editor.edit((edit) => edit.insert(new vscode.Position(5, 0), 'More '));
    assert.equal(shown()?.length, 3);
    await editor.edit((edit) => edit.insert(new vscode.Position(2, 3), 'swam and '));
    assert.equal(shown(), undefined);
    assert.equal(extension.shownDecorations(editor.document.uri)['choice.best'], undefined);
  });
});
