import * as vscode from 'vscode';
import { targetEditor, visibleEditorOf } from './editors';
import { generateChunk, methods, type GenerateResult, type GenerationOptions } from '../protocol';
import type { FeatureContext } from './context';
import { showError } from './errors';
import { confirmLargeText, withCancellableProgress } from './largeDocument';
import { generationOptions, settings } from './settings';

/** Where generated text goes: a document and an offset in it (not an editor, which may go). */
export interface StreamTarget {
  document: vscode.TextDocument;
  offset: number;
}

/**
 * Inserts text through the document's visible editor, as part of the current undo step, or,
 * when no editor shows the document any more (the user switched tabs), through a WorkspaceEdit
 * on its URI, which makes its own undo step. False when the document changed meanwhile.
 */
async function insertText(
  document: vscode.TextDocument,
  offset: number,
  text: string,
  undoStopBefore: boolean,
): Promise<boolean> {
  const position = document.positionAt(offset);
  const editor = visibleEditorOf(document);
  if (editor) {
    try {
      return await editor.edit((edit) => edit.insert(position, text), {
        undoStopBefore,
        undoStopAfter: false,
      });
    } catch {
      // The editor closed between the lookup and the edit: write through the document.
      if (document.isClosed) return false;
    }
  }
  const edit = new vscode.WorkspaceEdit();
  edit.insert(document.uri, position, text);
  return vscode.workspace.applyEdit(edit);
}

/**
 * Streams the LM's continuation of `prompt` into the document at the target offset, as it is
 * generated, after `lead` (written first). The pieces form one undo step while an editor shows
 * the document. Any edit of the document that is not ours (typing, undo) stops the generation
 * at once and nothing is written after it; what was inserted stays. The cursor follows the text
 * while it sits at its end. Cancelling the progress notification stops the host.
 */
async function streamInto(
  ctx: FeatureContext,
  target: StreamTarget,
  prompt: string,
  options: GenerationOptions,
  title: string,
  lead = '',
): Promise<GenerateResult | undefined> {
  const { document } = target;
  let offset = target.offset;
  let first = true;
  let writing = Promise.resolve();
  const stop = new vscode.CancellationTokenSource();
  /** Our edits not yet seen in a change event; any other change is the user's. */
  const expected: { offset: number; text: string }[] = [];
  const watch = vscode.workspace.onDidChangeTextDocument((event) => {
    if (event.document !== document || event.contentChanges.length === 0) return;
    const [change] = event.contentChanges;
    const ours =
      event.contentChanges.length === 1 &&
      expected.length > 0 &&
      change.rangeOffset === expected[0].offset &&
      change.rangeLength === 0 &&
      change.text === expected[0].text;
    if (ours) expected.shift();
    else stop.cancel();
  });
  const append = (text: string) => {
    if (text === '') return;
    writing = writing.then(async () => {
      if (stop.token.isCancellationRequested || document.isClosed) return;
      const at = offset;
      // The editor turns line breaks into the document's; offsets count what is inserted.
      const inserted =
        document.eol === vscode.EndOfLine.CRLF ? text.replace(/\r?\n/g, '\r\n') : text;
      const write = { offset: at, text: inserted };
      expected.push(write);
      const applied = await insertText(document, at, inserted, first);
      if (!applied) {
        expected.splice(expected.indexOf(write), 1);
        stop.cancel();
        return;
      }
      first = false;
      offset = at + inserted.length;
      follow(document, at, offset);
    });
  };
  const closed = vscode.workspace.onDidCloseTextDocument((closing) => {
    if (closing === document) stop.cancel();
  });
  try {
    append(lead);
    const result = await withCancellableProgress(title, (_progress, token) => {
      const link = token.onCancellationRequested(() => stop.cancel());
      return ctx.host
        .requestWithPartials(
          methods.generate,
          generateChunk,
          { prompt, options },
          (chunk) => append(chunk.text),
          stop.token,
        )
        .finally(() => link.dispose());
    });
    await writing;
    // The host may have finished before the stop reached it: the text is not all written.
    if (stop.token.isCancellationRequested) return undefined;
    if (result.new_text === '') {
      void vscode.window.showInformationMessage(
        vscode.l10n.t('GPT-2 Heads: the model ended the text here (it generated nothing).'),
      );
    }
    return result;
  } catch (error) {
    await writing;
    // Stopped by typing, a closed document or the user's Cancel: what was written stays.
    if (stop.token.isCancellationRequested) return undefined;
    showError(error, ctx.log);
    return undefined;
  } finally {
    watch.dispose();
    closed.dispose();
    stop.dispose();
  }
}

/** Keeps the cursor, and the view, at the end of the streamed text while the cursor is there. */
function follow(document: vscode.TextDocument, previousEnd: number, end: number): void {
  const editor = visibleEditorOf(document);
  if (!editor || !editor.selection.isEmpty) return;
  const cursor = document.offsetAt(editor.selection.active);
  if (cursor !== previousEnd && cursor !== end) return;
  const position = document.positionAt(end);
  editor.selection = new vscode.Selection(position, position);
  editor.revealRange(new vscode.Range(position, position));
}

/**
 * Puts the cursor where the text will stream, so that no selection covers the user's text (a
 * keystroke would replace it) and the cursor follows the generated text.
 */
function placeCursor(editor: vscode.TextEditor, offset: number): void {
  const position = editor.document.positionAt(offset);
  editor.selection = new vscode.Selection(position, position);
}

/**
 * "Continue Text": the language model continues the text before the cursor, or, given `at`
 * (the walkthrough's sample), the text of that document before that offset.
 */
export async function continueText(
  ctx: FeatureContext,
  at?: StreamTarget,
): Promise<GenerateResult | undefined> {
  const editor = at ? visibleEditorOf(at.document) : targetEditor();
  if (!editor) {
    void vscode.window.showInformationMessage(
      vscode.l10n.t(
        'GPT-2 Heads: open a document and place the cursor where the text should continue.',
      ),
    );
    return undefined;
  }
  const document = editor.document;
  const offset = at?.offset ?? document.offsetAt(editor.selection.active);
  const prompt = document.getText().slice(0, offset);
  if (prompt.trim() === '') {
    void vscode.window.showInformationMessage(
      vscode.l10n.t('GPT-2 Heads: there is no text before the cursor to continue.'),
    );
    return undefined;
  }
  if (!(await confirmLargeText(prompt.length, 'Continue', document.uri))) return undefined;
  placeCursor(editor, offset);
  return streamInto(
    ctx,
    { document, offset },
    prompt,
    generationOptions(),
    'GPT-2 Heads: continuing text…',
  );
}

/** The selected text and where it ends, read now: the editor may be gone after an await. */
function selectionOrNothing(): { text: string; end: StreamTarget; version: number } | undefined {
  const editor = targetEditor();
  if (!editor || editor.selection.isEmpty) {
    void vscode.window.showInformationMessage(vscode.l10n.t('GPT-2 Heads: select the text first.'));
    return undefined;
  }
  const { document, selection } = editor;
  return {
    text: document.getText(selection),
    end: { document, offset: document.offsetAt(selection.end) },
    version: document.version,
  };
}

/** Streams generated text about the selection onto a new line after it, as one undo step. */
async function streamAfterSelection(
  ctx: FeatureContext,
  end: StreamTarget,
  prompt: string,
  title: string,
): Promise<GenerateResult | undefined> {
  const editor = visibleEditorOf(end.document);
  if (editor) placeCursor(editor, end.offset);
  const options = generationOptions({ max_new_tokens: settings.maxSummaryTokens() });
  return streamInto(ctx, end, prompt, options, title, '\n');
}

/** "Summarize Selection": the GPT-2 paper's zero-shot summary prompt, "TL;DR:" after the text. */
export async function summarizeSelection(ctx: FeatureContext): Promise<GenerateResult | undefined> {
  const selected = selectionOrNothing();
  if (!selected) return undefined;
  if (!(await confirmLargeText(selected.text.length, 'Generate', selected.end.document.uri)))
    return undefined;
  const prompt = `${selected.text.trimEnd()}\n\nTL;DR:`;
  return streamAfterSelection(
    ctx,
    selected.end,
    prompt,
    vscode.l10n.t('GPT-2 Heads: summarizing…'),
  );
}

/** "Transform Selection with Template…": a user template from the settings, {text} = selection. */
export async function transformSelection(
  ctx: FeatureContext,
  templateName?: string,
): Promise<GenerateResult | undefined> {
  const selected = selectionOrNothing();
  if (!selected) return undefined;
  if (!(await confirmLargeText(selected.text.length, 'Generate', selected.end.document.uri)))
    return undefined;
  const templates = settings.templates();
  const name =
    templateName ??
    (
      await vscode.window.showQuickPick(
        Object.entries(templates).map(([label, template]) => ({
          label,
          detail: template.replace(/\n/g, ' ⏎ '),
        })),
        {
          title: vscode.l10n.t('GPT-2 Heads: transform the selection with…'),
          placeHolder: vscode.l10n.t('Templates come from "gpt2Heads.generation.templates"'),
        },
      )
    )?.label;
  if (!name) return undefined;
  if (selected.end.document.version !== selected.version) {
    void vscode.window.showInformationMessage(
      vscode.l10n.t('GPT-2 Heads: the document changed while you chose; select the text again.'),
    );
    return undefined;
  }
  const template = templates[name];
  if (!template?.includes('{text}')) {
    void vscode.window.showErrorMessage(
      vscode.l10n.t(
        'GPT-2 Heads: template "{0}" needs {text} where the selection goes. Edit "gpt2Heads.generation.templates".',
        name,
      ),
    );
    return undefined;
  }
  const prompt = template.split('{text}').join(selected.text);
  return streamAfterSelection(ctx, selected.end, prompt, vscode.l10n.t('GPT-2 Heads: {0}…', name));
}
