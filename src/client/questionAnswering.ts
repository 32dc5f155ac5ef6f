import * as vscode from 'vscode';
import { targetEditor } from './editors';
import { methods, type Answer, type AnswerResult, type ChooseResult } from '../protocol';
import { optionAsContinuation, parseChoices } from '../text/choices';
import type { FeatureContext } from './context';
import { showError } from './errors';
import { confirmLargeText, windowReporter } from './largeDocument';
import { settings } from './settings';

const historyKey = 'gpt2Heads.recentQuestions';

const answerDecoration = vscode.window.createTextEditorDecorationType({
  backgroundColor: new vscode.ThemeColor('editor.findMatchHighlightBackground'),
  border: '1px solid',
  borderColor: new vscode.ThemeColor('editor.findMatchBorder'),
  overviewRulerColor: new vscode.ThemeColor('editorOverviewRuler.findMatchForeground'),
  overviewRulerLane: vscode.OverviewRulerLane.Center,
});

const bestOptionDecoration = vscode.window.createTextEditorDecorationType({
  backgroundColor: new vscode.ThemeColor('diffEditor.insertedTextBackground'),
  isWholeLine: true,
});

const optionScoreDecoration = vscode.window.createTextEditorDecorationType({
  after: { color: new vscode.ThemeColor('editorCodeLens.foreground'), margin: '0 0 0 1.5em' },
});

export interface AskArguments {
  question?: string;
}

export interface AskResult extends AnswerResult {
  /** Document ranges of the answers, best first. */
  ranges: vscode.Range[];
}

async function askFor(ctx: FeatureContext): Promise<string | undefined> {
  const recent = ctx.extension.globalState.get<string[]>(historyKey, []);
  const pick = vscode.window.createQuickPick();
  pick.title = 'GPT-2 Heads: Ask a Question';
  pick.placeholder = vscode.l10n.t(
    'Type a question about the selection (or the whole document) and press Enter',
  );
  pick.items = recent.map((question) => ({ label: question, description: 'recent' }));
  return new Promise((resolve) => {
    pick.onDidAccept(() => {
      const value = pick.selectedItems[0]?.label ?? pick.value;
      resolve(value.trim() || undefined);
      pick.hide();
    });
    pick.onDidHide(() => {
      resolve(undefined);
      pick.dispose();
    });
    pick.show();
  });
}

/**
 * "Ask a Question…": extractive QA over the selection (or the document). The best answer is
 * highlighted and revealed; all answers are listed, each jumping to its span.
 */
export async function askQuestion(
  ctx: FeatureContext,
  args: AskArguments = {},
): Promise<AskResult | undefined> {
  const editor = targetEditor();
  if (!editor) {
    void vscode.window.showInformationMessage(
      vscode.l10n.t('GPT-2 Heads: open a document (and select the passage) to ask about.'),
    );
    return undefined;
  }
  const document = editor.document;
  const contextRange = editor.selection.isEmpty
    ? new vscode.Range(document.positionAt(0), document.positionAt(document.getText().length))
    : new vscode.Range(editor.selection.start, editor.selection.end);
  const context = document.getText(contextRange);
  if (context.trim() === '') {
    void vscode.window.showInformationMessage(
      vscode.l10n.t('GPT-2 Heads: there is no text to find an answer in.'),
    );
    return undefined;
  }
  if (!(await confirmLargeText(context.length, 'Ask', document.uri))) return undefined;
  const question = args.question ?? (await askFor(ctx));
  if (!question) return undefined;
  const recent = ctx.extension.globalState.get<string[]>(historyKey, []);
  await ctx.extension.globalState.update(
    historyKey,
    [question, ...recent.filter((q) => q !== question)].slice(0, 20),
  );
  const base = document.offsetAt(contextRange.start);
  const version = document.version;
  try {
    const result = await vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: vscode.l10n.t('GPT-2 Heads: looking for the answer…'),
        cancellable: true,
      },
      (progress, token) =>
        ctx.host.requestWithProgress(
          methods.answer,
          {
            question,
            context,
            top_k: settings.qaTopK(),
            max_answer_len: settings.qaMaxAnswerLen(),
            doc_stride: settings.qaDocStride(),
            handle_impossible_answer: settings.qaHandleImpossibleAnswer(),
          },
          windowReporter(progress),
          token,
        ),
    );
    if (document.version !== version) {
      void vscode.window.showWarningMessage(
        vscode.l10n.t(
          'GPT-2 Heads: the document changed while the answer was computed; ask again.',
        ),
      );
      return undefined;
    }
    const ranges = result.answers.map(
      (a) =>
        new vscode.Range(document.positionAt(base + a.start), document.positionAt(base + a.end)),
    );
    const best = result.answers[0];
    if (!best || best.answer === '') {
      editor.setDecorations(answerDecoration, []);
      void vscode.window.showInformationMessage(
        vscode.l10n.t('GPT-2 Heads: no answer found for "{0}".', question),
      );
      return { ...result, ranges };
    }
    editor.setDecorations(answerDecoration, [ranges[0]]);
    editor.selection = new vscode.Selection(ranges[0].start, ranges[0].end);
    editor.revealRange(ranges[0], vscode.TextEditorRevealType.InCenterIfOutsideViewport);
    if (args.question === undefined) void showAnswers(editor, question, result.answers, ranges);
    return { ...result, ranges };
  } catch (error) {
    showError(error, ctx.log);
    return undefined;
  }
}

async function showAnswers(
  editor: vscode.TextEditor,
  question: string,
  answers: Answer[],
  ranges: vscode.Range[],
) {
  const items = answers.map((a, i) => ({
    label: a.answer.trim() || '(no answer)',
    description: `score ${a.score.toFixed(3)} · line ${ranges[i].start.line + 1}`,
    range: ranges[i],
  }));
  const picked = await vscode.window.showQuickPick(items, {
    title: vscode.l10n.t('Answers to "{0}"', question),
    placeHolder: vscode.l10n.t('The best answer is highlighted; pick one to jump to it'),
  });
  if (picked) {
    editor.setDecorations(answerDecoration, [picked.range]);
    editor.selection = new vscode.Selection(picked.range.start, picked.range.end);
    editor.revealRange(picked.range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
  }
}

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
  try {
    const result = await vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: vscode.l10n.t('GPT-2 Heads: scoring the options…'),
        cancellable: true,
      },
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
    editor.setDecorations(
      optionScoreDecoration,
      options.map((option) => ({
        range: document.lineAt(option.line).range,
        renderOptions: { after: { contentText: `${(option.score * 100).toFixed(1)}%` } },
      })),
    );
    const best = options[result.ranked[0].index];
    editor.setDecorations(bestOptionDecoration, [document.lineAt(best.line).range]);
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

export function clearAnswerDecorations(): void {
  for (const editor of vscode.window.visibleTextEditors) {
    editor.setDecorations(answerDecoration, []);
    editor.setDecorations(bestOptionDecoration, []);
    editor.setDecorations(optionScoreDecoration, []);
  }
}

export const answerDecorationTypes = [
  answerDecoration,
  bestOptionDecoration,
  optionScoreDecoration,
];
