import * as vscode from 'vscode';
import { targetEditor } from './editors';
import { generateChunk, methods, type GenerateResult, type GenerationOptions } from '../protocol';
import type { FeatureContext } from './context';
import { showError } from './errors';
import { confirmLargeText } from './largeDocument';
import { generationOptions, settings } from './settings';

/**
 * Streams the LM's continuation of `prompt` into the document at `at`, as it is generated.
 * All pieces form one undo step. Typing elsewhere in the document stops the generation; what was
 * inserted stays. Cancelling the progress notification stops the host.
 */
async function streamInto(
  ctx: FeatureContext,
  editor: vscode.TextEditor,
  at: vscode.Position,
  prompt: string,
  options: GenerationOptions,
  title: string,
  /** False when the caller already began this undo step (e.g. inserted a line break). */
  newUndoStep = true,
): Promise<GenerateResult | undefined> {
  const document = editor.document;
  let offset = document.offsetAt(at);
  let expectedVersion = document.version;
  let first = true;
  let writing = Promise.resolve();
  const stop = new vscode.CancellationTokenSource();
  const append = (text: string) => {
    writing = writing.then(async () => {
      if (stop.token.isCancellationRequested || document.isClosed) return;
      if (document.version !== expectedVersion) {
        stop.cancel();
        return;
      }
      const position = document.positionAt(offset);
      const applied = await editor.edit((edit) => edit.insert(position, text), {
        undoStopBefore: first && newUndoStep,
        undoStopAfter: false,
      });
      if (!applied) return stop.cancel();
      first = false;
      offset += text.length;
      expectedVersion = document.version;
    });
  };
  try {
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title, cancellable: true },
      (_progress, token) => {
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
      },
    );
    await writing;
    if (result.new_text === '') {
      void vscode.window.showInformationMessage(
        vscode.l10n.t('GPT-2 Heads: the model ended the text here (it generated nothing).'),
      );
    }
    const end = document.positionAt(offset);
    if (!document.isClosed && vscode.window.activeTextEditor === editor) {
      editor.selection = new vscode.Selection(end, end);
    }
    return result;
  } catch (error) {
    await writing;
    if (stop.token.isCancellationRequested && !(error instanceof vscode.CancellationError))
      return undefined;
    showError(error, ctx.log);
    return undefined;
  } finally {
    stop.dispose();
  }
}

/** "Continue Text": the language model continues the text before the cursor. */
export async function continueText(ctx: FeatureContext): Promise<GenerateResult | undefined> {
  const editor = targetEditor();
  if (!editor) {
    void vscode.window.showInformationMessage(
      vscode.l10n.t(
        'GPT-2 Heads: open a document and place the cursor where the text should continue.',
      ),
    );
    return undefined;
  }
  const position = editor.selection.active;
  const prompt = editor.document.getText(new vscode.Range(new vscode.Position(0, 0), position));
  if (prompt.trim() === '') {
    void vscode.window.showInformationMessage(
      vscode.l10n.t('GPT-2 Heads: there is no text before the cursor to continue.'),
    );
    return undefined;
  }
  if (!(await confirmLargeText(prompt.length, 'Continue', editor.document.uri))) return undefined;
  return streamInto(
    ctx,
    editor,
    position,
    prompt,
    generationOptions(),
    'GPT-2 Heads: continuing text…',
  );
}

function selectionOrNothing(): { editor: vscode.TextEditor; text: string } | undefined {
  const editor = targetEditor();
  if (!editor || editor.selection.isEmpty) {
    void vscode.window.showInformationMessage(vscode.l10n.t('GPT-2 Heads: select the text first.'));
    return undefined;
  }
  return { editor, text: editor.document.getText(editor.selection) };
}

/** Streams generated text about the selection onto a new line after it, as one undo step. */
async function streamAfterSelection(
  ctx: FeatureContext,
  editor: vscode.TextEditor,
  prompt: string,
  title: string,
): Promise<GenerateResult | undefined> {
  const end = editor.selection.end;
  await editor.edit((edit) => edit.insert(end, '\n'), {
    undoStopBefore: true,
    undoStopAfter: false,
  });
  const at = editor.document.positionAt(editor.document.offsetAt(end) + 1);
  const options = generationOptions({ max_new_tokens: settings.maxSummaryTokens() });
  return streamInto(ctx, editor, at, prompt, options, title, false);
}

/** "Summarize Selection": the GPT-2 paper's zero-shot summary prompt, "TL;DR:" after the text. */
export async function summarizeSelection(ctx: FeatureContext): Promise<GenerateResult | undefined> {
  const selected = selectionOrNothing();
  if (!selected) return undefined;
  if (!(await confirmLargeText(selected.text.length, 'Generate', selected.editor.document.uri)))
    return undefined;
  const prompt = `${selected.text.trimEnd()}\n\nTL;DR:`;
  return streamAfterSelection(
    ctx,
    selected.editor,
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
  if (!(await confirmLargeText(selected.text.length, 'Generate', selected.editor.document.uri)))
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
  return streamAfterSelection(
    ctx,
    selected.editor,
    prompt,
    vscode.l10n.t('GPT-2 Heads: {0}…', name),
  );
}
