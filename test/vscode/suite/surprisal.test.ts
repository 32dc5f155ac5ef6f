import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { api, caseText, closeAll, openText, setting, until } from './helpers';

/** Whether a UTF-16 offset falls between the two halves of a surrogate pair. */
function splitsPair(text: string, offset: number): boolean {
  const before = text.charCodeAt(offset - 1);
  const at = text.charCodeAt(offset);
  return before >= 0xd800 && before <= 0xdbff && at >= 0xdc00 && at <= 0xdfff;
}

function hoverText(hovers: vscode.Hover[]): string {
  return hovers
    .flatMap((hover) => hover.contents)
    .map((content) =>
      typeof content === 'string' ? content : (content as vscode.MarkdownString).value,
    )
    .join('\n')
    .replace(/\\(.)/g, '$1');
}

describe('surprisal lens in the editor', () => {
  // The tiny reference LM has random weights: every token sits near 16.5 bits. Steps around that
  // spread its tokens over the colours.
  before(async () => {
    await setting('surprisal.colorSteps', [15.5, 16, 16.5, 17, 17.5]);
    await setting('surprisal.threshold', 17.5);
  });
  after(async () => {
    await setting('surprisal.colorSteps', undefined);
    await setting('surprisal.threshold', undefined);
    await setting('surprisal.debounceMs', undefined);
  });
  afterEach(() => closeAll());

  it('colours the tokens of a text with emoji and CJK on character boundaries, and toggles off', async () => {
    const extension = await api();
    const text = `${caseText('emoji')}\n${caseText('cjk')}`;
    const editor = await openText(text);
    const uri = editor.document.uri;
    const shown = await vscode.commands.executeCommand<boolean>('gpt2Heads.toggleSurprisal');
    assert.equal(shown, true);
    const view = extension.surprisal(uri)!;
    assert.ok(view.tokens.length > 50, `${view.tokens.length} tokens`);
    assert.equal(view.tokens[0].logprob, null, 'the first token has no surprisal');
    assert.ok(view.tokens.slice(1).every((t) => t.bits !== null && t.bits > 0));

    const decorations = extension.surprisalDecorations(uri)!;
    const coloured = decorations.steps.flat();
    assert.ok(decorations.steps.filter((ranges) => ranges.length > 0).length >= 3, 'several steps');
    assert.ok(coloured.length > view.tokens.length / 2, `${coloured.length} coloured spans`);
    const firstEnd = editor.document.offsetAt(view.tokens[0].range.end);
    for (const range of coloured) {
      const start = editor.document.offsetAt(range.start);
      const end = editor.document.offsetAt(range.end);
      assert.ok(start < end && end <= text.length, `range ${start}-${end}`);
      assert.ok(
        !splitsPair(text, start) && !splitsPair(text, end),
        `${start}-${end} splits a pair`,
      );
      assert.ok(start >= firstEnd, 'the first token is not coloured');
    }
    const outliers = view.tokens.filter(
      (t) => t.bits !== null && t.bits >= 17.5 && t.shownStart < t.shownEnd,
    );
    assert.equal(decorations.outliers.length, outliers.length);

    assert.equal(await vscode.commands.executeCommand('gpt2Heads.toggleSurprisal'), false);
    assert.equal(extension.surprisal(uri), undefined);
    assert.equal(extension.surprisalDecorations(uri), undefined);
    assert.equal(extension.surprisalStatus(), undefined);
  });

  it("shows a token's probability, surprisal and the model's top 5 alternatives in a hover", async () => {
    const extension = await api();
    const editor = await openText(caseText('names_places'));
    await vscode.commands.executeCommand('gpt2Heads.toggleSurprisal');
    const token = extension.surprisal(editor.document.uri)!.tokens[3];
    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>(
      'vscode.executeHoverProvider',
      editor.document.uri,
      token.range.start,
    );
    const text = hoverText(hovers);
    assert.match(text, new RegExp(`${token.bits!.toFixed(2)} bits of surprisal`));
    assert.match(text, /The model's top 5 here/);
    assert.equal(token.alternatives.length, 5);
    for (const [alternative] of token.alternatives) {
      assert.ok(text.includes(JSON.stringify(alternative)), `${alternative} is listed`);
    }
    assert.equal(text.match(/ · p \d/g)?.length, 6, 'the token and five alternatives');
    assert.match(text, /gpt2-tiny-lm/);
  });

  it('shows the perplexity of the document, or of the selection, in the status bar', async () => {
    const extension = await api();
    const editor = await openText(caseText('news'));
    await vscode.commands.executeCommand('gpt2Heads.toggleSurprisal');
    const view = extension.surprisal(editor.document.uri)!;
    const status = extension.surprisalStatus()!;
    const shown = /PPL ([\d,]+(?:\.\d)?) · (\d+\.\d\d) bits\/token/.exec(status);
    assert.ok(shown, status);
    const perplexity = Number(shown[1].replace(/,/g, ''));
    assert.ok(Math.abs(perplexity / view.perplexity! - 1) < 1e-3, `${perplexity} shown`);
    assert.equal(Number(shown[2]), Number(view.bitsPerToken!.toFixed(2)));
    const bits = view.tokens.flatMap((t) => (t.bits === null ? [] : [t.bits]));
    const mean = bits.reduce((a, b) => a + b, 0) / bits.length;
    assert.ok(Math.abs(mean - view.bitsPerToken!) < 1e-9);

    // Off, then on for a selection: only its tokens, its own perplexity.
    await vscode.commands.executeCommand('gpt2Heads.toggleSurprisal');
    const document = editor.document;
    editor.selection = new vscode.Selection(document.positionAt(5), document.positionAt(40));
    await vscode.commands.executeCommand('gpt2Heads.toggleSurprisal');
    const selected = extension.surprisal(document.uri)!;
    assert.deepEqual(selected.scope, { start: 5, end: 40 });
    assert.ok(
      selected.tokens.every((t) => t.start >= 5 && t.end <= 40),
      'tokens of the selection only',
    );
    assert.notEqual(selected.perplexity, view.perplexity);
    assert.match(extension.surprisalStatus()!, /PPL [\d,]+/);
  });

  it('re-colours only the region around an edit', async () => {
    const extension = await api();
    await setting('surprisal.debounceMs', 100);
    const long = caseText('long_text');
    const editor = await openText(`${long}\n\n${long}`);
    const document = editor.document;
    await vscode.commands.executeCommand('gpt2Heads.toggleSurprisal');
    const before = extension.surprisal(document.uri)!;
    const bitsBefore = new Map(before.tokens.map((t) => [t.start, t.bits]));
    const at = long.length + 2 + Math.floor(long.length / 2);
    const inserted = ' indeed';
    await editor.edit((edit) => edit.insert(document.positionAt(at), inserted));
    const after = await until(() => {
      const view = extension.surprisal(document.uri);
      return view && view.version === document.version && view;
    }, 'surprisal after the edit');
    assert.ok(after.windows - after.cachedWindows <= 2, 'at most two windows ran again');
    assert.ok(after.recoloured.length >= 1);
    const from = document.offsetAt(after.recoloured[0].start);
    const to = document.offsetAt(after.recoloured.at(-1)!.end);
    assert.ok(from <= at && at + inserted.length <= to, `re-coloured ${from}-${to}, edit at ${at}`);
    assert.ok(to - from < document.getText().length / 3, `re-coloured ${to - from} characters`);
    let unchanged = 0;
    for (const token of after.tokens) {
      if (token.end <= from) assert.equal(token.bits, bitsBefore.get(token.start));
      else if (token.start >= to) {
        assert.equal(token.bits, bitsBefore.get(token.start - inserted.length));
      } else continue;
      unchanged++;
    }
    assert.ok(unchanged > after.tokens.length / 2, `${unchanged} tokens kept their colour`);
  });

  it('goes to the next token above the threshold, and round again', async () => {
    const extension = await api();
    const editor = await openText(caseText('long_text'));
    await vscode.commands.executeCommand('gpt2Heads.toggleSurprisal');
    const view = extension.surprisal(editor.document.uri)!;
    const outliers = view.tokens.filter(
      (t) => t.bits !== null && t.bits >= 17.5 && t.shownStart < t.shownEnd,
    );
    assert.ok(outliers.length >= 2, `${outliers.length} outliers`);
    editor.selection = new vscode.Selection(0, 0, 0, 0);
    await vscode.commands.executeCommand('gpt2Heads.nextSurprisingToken');
    assert.ok(editor.selection.isEqual(outliers[0].range));
    await vscode.commands.executeCommand('gpt2Heads.nextSurprisingToken');
    assert.ok(editor.selection.isEqual(outliers[1].range));
    editor.selection = new vscode.Selection(outliers.at(-1)!.range.end, outliers.at(-1)!.range.end);
    await vscode.commands.executeCommand('gpt2Heads.nextSurprisingToken');
    assert.ok(editor.selection.isEqual(outliers[0].range), 'wraps round to the first');
  });
});
