import * as vscode from 'vscode';
import { methods, type GenerateResult } from '../protocol';
import type { Context } from './context';
import { showError } from './errors';
import { settings } from './settings';

/** "Continue Text": the language model continues the text before the cursor, as one edit. */
export async function continueText(ctx: Context): Promise<GenerateResult | undefined> {
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    void vscode.window.showInformationMessage(
      'GPT-2 Heads: open a document and place the cursor where the text should continue.',
    );
    return undefined;
  }
  const document = editor.document;
  const position = editor.selection.active;
  const prompt = document.getText(new vscode.Range(new vscode.Position(0, 0), position));
  if (prompt.trim() === '') {
    void vscode.window.showInformationMessage(
      'GPT-2 Heads: there is no text before the cursor to continue.',
    );
    return undefined;
  }
  try {
    const result = await vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: 'GPT-2 Heads: continuing text…',
        cancellable: true,
      },
      (_progress, token) =>
        ctx.host.request(
          methods.generate,
          { prompt, options: { max_new_tokens: settings.maxNewTokens() } },
          token,
        ),
    );
    if (!result.new_text) {
      void vscode.window.showInformationMessage(
        'GPT-2 Heads: the model ended the text here (it generated nothing).',
      );
      return result;
    }
    await insertAfter(editor, prompt, position, result.new_text);
    return result;
  } catch (error) {
    showError(error, ctx.log);
    return undefined;
  }
}

/**
 * Inserts where the prompt ended. If the text before that point changed meanwhile, the
 * continuation no longer fits there: offer to copy it instead of inserting it somewhere wrong.
 */
async function insertAfter(
  editor: vscode.TextEditor,
  prompt: string,
  position: vscode.Position,
  text: string,
): Promise<void> {
  const document = editor.document;
  const stillThere =
    !document.isClosed &&
    document.offsetAt(position) === prompt.length &&
    document.getText(new vscode.Range(new vscode.Position(0, 0), position)) === prompt;
  if (stillThere && (await editor.edit((edit) => edit.insert(position, text)))) {
    const end = document.positionAt(prompt.length + text.length);
    editor.selection = new vscode.Selection(end, end);
    return;
  }
  void vscode.window
    .showWarningMessage(
      'GPT-2 Heads: the document changed while the text was generated, so it was not inserted.',
      'Copy to Clipboard',
    )
    .then((choice) => (choice ? vscode.env.clipboard.writeText(text) : undefined));
}
