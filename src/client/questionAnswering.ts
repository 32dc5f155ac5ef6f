import * as vscode from 'vscode';
import { selectAndReveal, targetEditor, visibleEditorOf } from './editors';
import { methods, type AnswerResult } from '../protocol';
import type { FeatureContext } from './context';
import { showError } from './errors';
import { confirmLargeText, windowReporter, withCancellableProgress } from './largeDocument';
import { settings } from './settings';
import { paint } from './shownDecorations';
import { percentages, trimRange } from '../text/spans';

const historyKey = 'gpt2Heads.recentQuestions';

const answerDecoration = vscode.window.createTextEditorDecorationType({
  backgroundColor: new vscode.ThemeColor('editor.findMatchHighlightBackground'),
  border: '1px solid',
  borderColor: new vscode.ThemeColor('editor.findMatchBorder'),
  overviewRulerColor: new vscode.ThemeColor('editorOverviewRuler.findMatchForeground'),
  overviewRulerLane: vscode.OverviewRulerLane.Center,
});

export interface AskArguments {
  question?: string;
}

export interface AskResult extends AnswerResult {
  /** Document ranges of the answers, best first, without surrounding whitespace. */
  ranges: vscode.Range[];
  /** The text the answers were looked for in. */
  scope: vscode.Range;
  /** The answers' scores as the list shows them. */
  scores: string[];
}

/**
 * The answer the extension selected in each document, and the scope it was found in: while
 * that selection stands, the next question searches the same scope, not the answer.
 */
const selectedAnswers = new Map<
  string,
  { answer: vscode.Range; scope: vscode.Range; version: number }
>();

function selectAnswer(editor: vscode.TextEditor, answer: vscode.Range, scope: vscode.Range): void {
  paint(editor, answerDecoration, 'answer', [answer]);
  selectAndReveal(editor, answer);
  selectedAnswers.set(editor.document.uri.toString(), {
    answer,
    scope,
    version: editor.document.version,
  });
}

/** The selection, or the whole document; not an answer the extension selected itself. */
function scopeOf(editor: vscode.TextEditor): vscode.Range {
  const { document, selection } = editor;
  const previous = selectedAnswers.get(document.uri.toString());
  if (previous && previous.version === document.version && selection.isEqual(previous.answer)) {
    return previous.scope;
  }
  return selection.isEmpty
    ? new vscode.Range(document.positionAt(0), document.positionAt(document.getText().length))
    : new vscode.Range(selection.start, selection.end);
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
      const picked = pick.selectedItems[0]?.label;
      // Enter on an empty input puts the highlighted recent question in the input, for the
      // user to see (and edit) before a second Enter asks it: nothing is asked unseen.
      if (pick.value.trim() === '') {
        if (picked) pick.value = picked;
        return;
      }
      resolve((picked ?? pick.value).trim() || undefined);
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
  const contextRange = scopeOf(editor);
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
    const result = await withCancellableProgress(
      vscode.l10n.t('GPT-2 Heads: looking for the answer…'),
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
    const ranges = result.answers.map((a) => {
      const [start, end] = trimRange(context, a.start, a.end);
      return new vscode.Range(document.positionAt(base + start), document.positionAt(base + end));
    });
    const scores = percentages(result.answers.map((a) => a.score));
    const outcome = { ...result, ranges, scope: contextRange, scores };
    const best = result.answers[0];
    // The editor may have gone while the host worked: look it up again.
    const shown = visibleEditorOf(document);
    if (!best || best.answer === '') {
      if (shown) paint(shown, answerDecoration, 'answer', []);
      void vscode.window.showInformationMessage(
        vscode.l10n.t('GPT-2 Heads: no answer found for "{0}".', question),
      );
      return outcome;
    }
    if (shown) selectAnswer(shown, ranges[0], contextRange);
    if (args.question === undefined) void showAnswers(document, outcome, question);
    return outcome;
  } catch (error) {
    showError(error, ctx.log);
    return undefined;
  }
}

async function showAnswers(
  document: vscode.TextDocument,
  outcome: AskResult,
  question: string,
): Promise<void> {
  const { answers, ranges, scores, scope } = outcome;
  const items = answers.map((a, i) => ({
    label: a.answer.trim() || '(no answer)',
    description: `${scores[i]} · line ${ranges[i].start.line + 1}`,
    range: ranges[i],
  }));
  const picked = await vscode.window.showQuickPick(items, {
    title: vscode.l10n.t('Answers to "{0}"', question),
    placeHolder: vscode.l10n.t('The best answer is highlighted; pick one to jump to it'),
  });
  const editor = picked && visibleEditorOf(document);
  if (editor) selectAnswer(editor, picked.range, scope);
}

export function clearAnswerDecorations(): void {
  for (const editor of vscode.window.visibleTextEditors)
    paint(editor, answerDecoration, 'answer', []);
}

export const answerDecorationTypes = [answerDecoration];
