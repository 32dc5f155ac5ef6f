import * as vscode from 'vscode';
import { targetEditor, visibleEditorOf } from './editors';
import { methods, type ChooseResult } from '../protocol';
import { optionAsContinuation, parseChoices } from '../text/choices';
import type { FeatureContext } from './context';
import { showError } from './errors';
import { confirmLargeText, withCancellableProgress } from './largeDocument';
import { paint } from './shownDecorations';

const bestOptionDecoration = vscode.window.createTextEditorDecorationType({
  backgroundColor: new vscode.ThemeColor('diffEditor.insertedTextBackground'),
  isWholeLine: true,
});

const optionScoreDecoration = vscode.window.createTextEditorDecorationType({
  after: { color: new vscode.ThemeColor('editorCodeLens.foreground'), margin: '0 0 0 1.5em' },
});

/** The lines of the question and options whose scores each document shows. */
const scored = new Map<string, { first: number; last: number }>();

/**
 * The scores belong to the options as they were: an edit of those lines clears them; edits
 * above move the lines.
 */
const watchEdits = vscode.workspace.onDidChangeTextDocument((event) => {
  const key = event.document.uri.toString();
  const lines = scored.get(key);
  if (!lines) return;
  for (const change of event.contentChanges) {
    const added = change.text.split('\n').length - 1;
    const removed = change.range.end.line - change.range.start.line;
    if (change.range.start.line > lines.last) continue;
    if (change.range.end.line < lines.first) {
      lines.first += added - removed;
      lines.last += added - removed;
      continue;
    }
    clearChoiceDecorations(event.document);
    return;
  }
});

export interface ChoiceOutcome extends ChooseResult {
  /** The line of each option (in option order) and its probability. */
  options: { text: string; line: number; score: number }[];
}

/**
 * "Choose the Best Option": the selection is a question followed by options, one per line;
 * every option gets its probability after the line, and the best one is highlighted.
 */
export async function chooseBestOption(ctx: FeatureContext): Promise<ChoiceOutcome | undefined> {
  const editor = targetEditor();
  if (!editor) return undefined;
  const document = editor.document;
  const range = editor.selection.isEmpty
    ? document.lineAt(editor.selection.active.line).range
    : new vscode.Range(editor.selection.start, editor.selection.end);
  const selected = document.getText(range);
  if (!(await confirmLargeText(selected.length, 'Score', document.uri))) return undefined;
  const parsed = parseChoices(selected);
  if (parsed.options.length < 2) {
    void vscode.window.showInformationMessage(
      vscode.l10n.t(
        'GPT-2 Heads: select a question followed by at least two options, one per line ("A) …", "1. …" or "- …").',
      ),
    );
    return undefined;
  }
  const version = document.version;
  try {
    const result = await withCancellableProgress(
      vscode.l10n.t('GPT-2 Heads: scoring the options…'),
      (_progress, token) =>
        ctx.host.request(
          methods.choose,
          { context: parsed.context, options: parsed.options.map(optionAsContinuation) },
          token,
        ),
    );
    const lines = optionLines(document, range, parsed.markers);
    const options = parsed.options.map((text, index) => ({
      text,
      line: lines[index],
      score: result.ranked.find((r) => r.index === index)?.score ?? 0,
    }));
    const best = options[result.ranked[0].index];
    // The editor may have gone while the host worked; the scores belong to the document.
    const shown = visibleEditorOf(document);
    if (document.version === version && shown) {
      paint(
        shown,
        optionScoreDecoration,
        'choice.scores',
        options.map((option) => ({
          range: document.lineAt(option.line).range,
          renderOptions: { after: { contentText: `${(option.score * 100).toFixed(1)}%` } },
        })),
      );
      paint(shown, bestOptionDecoration, 'choice.best', [document.lineAt(best.line).range]);
      scored.set(document.uri.toString(), { first: range.start.line, last: range.end.line });
    }
    void vscode.window.setStatusBarMessage(
      vscode.l10n.t(
        'GPT-2 Heads: best option "{0}" ({1}%, {2})',
        best.text,
        (best.score * 100).toFixed(1),
        result.method === 'double-heads' ? 'double-heads model' : 'language model',
      ),
      8000,
    );
    return { ...result, options };
  } catch (error) {
    showError(error, ctx.log);
    return undefined;
  }
}

/** The document line of each option, found by its marker at the start of a line in the range. */
function optionLines(
  document: vscode.TextDocument,
  range: vscode.Range,
  markers: string[],
): number[] {
  const lines: number[] = [];
  let line = range.start.line;
  for (const marker of markers) {
    while (line <= range.end.line && !document.lineAt(line).text.trimStart().startsWith(marker))
      line++;
    lines.push(Math.min(line, range.end.line));
    line++;
  }
  return lines;
}

/** Clears the options' scores in a document, or everywhere. */
export function clearChoiceDecorations(document?: vscode.TextDocument): void {
  for (const editor of vscode.window.visibleTextEditors) {
    if (document && editor.document !== document) continue;
    paint(editor, bestOptionDecoration, 'choice.best', []);
    paint(editor, optionScoreDecoration, 'choice.scores', []);
  }
  if (document) scored.delete(document.uri.toString());
  else scored.clear();
}

export const choiceDisposables = [bestOptionDecoration, optionScoreDecoration, watchEdits];
