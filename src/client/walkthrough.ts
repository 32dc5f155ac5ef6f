import * as vscode from 'vscode';
import { headRoles, isHeadRole, taskTable, type HeadRole } from '../protocol';
import type { FeatureContext } from './context';
import { write } from './settings';

/**
 * "Choose a Local Model Folder…": a folder picker whose choice becomes gpt2Heads.<role>.model in
 * the user settings (model settings are ignored in untrusted workspaces, so never the workspace's).
 */
export async function chooseModelFolder(role?: unknown): Promise<string | undefined> {
  let key: HeadRole | undefined = isHeadRole(role) ? role : undefined;
  if (!key) {
    const picked = await vscode.window.showQuickPick(
      headRoles.map((id) => ({ label: taskTable[id].title, id })),
      { title: vscode.l10n.t('GPT-2 Heads: which head should use the folder?') },
    );
    key = picked?.id;
  }
  if (!key) return undefined;
  const title = taskTable[key].title;
  const [folder] =
    (await vscode.window.showOpenDialog({
      canSelectFolders: true,
      canSelectFiles: false,
      canSelectMany: false,
      openLabel: vscode.l10n.t('Use This Model'),
      title: vscode.l10n.t('Model folder for {0}', title),
    })) ?? [];
  if (!folder) return undefined;
  if (folder.scheme !== 'file') {
    void vscode.window.showErrorMessage(
      vscode.l10n.t('GPT-2 Heads: the model folder must be on the local disk.'),
    );
    return undefined;
  }
  try {
    await vscode.workspace.fs.stat(vscode.Uri.joinPath(folder, 'config.json'));
  } catch {
    void vscode.window.showErrorMessage(
      vscode.l10n.t(
        'GPT-2 Heads: {0} has no config.json; pick a Hugging Face model folder.',
        folder.fsPath,
      ),
    );
    return undefined;
  }
  await write.model(key, folder.fsPath);
  void vscode.window.showInformationMessage(
    vscode.l10n.t('GPT-2 Heads: {0} now uses {1}.', title, folder.fsPath),
  );
  return folder.fsPath;
}

/** The sample document this session opened, while it is open: opening it again shows it. */
let sample: vscode.TextDocument | undefined;

/**
 * "Open the Sample Document" (walkthrough): an untitled copy, so trying the heads edits nothing
 * on disk; the same copy each time while it is open.
 */
export async function openWalkthroughSample(ctx: FeatureContext): Promise<vscode.TextEditor> {
  if (!sample || sample.isClosed) {
    const uri = vscode.Uri.joinPath(
      ctx.extension.extensionUri,
      'media',
      'walkthrough',
      'sample.txt',
    );
    const content = new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
    sample = await vscode.workspace.openTextDocument({ language: 'plaintext', content });
  }
  const shown = vscode.window.visibleTextEditors.find((editor) => editor.document === sample);
  return vscode.window.showTextDocument(sample, {
    viewColumn: shown?.viewColumn ?? vscode.ViewColumn.Beside,
    preview: false,
  });
}

/**
 * Where the walkthrough's "Continue Text" writes: the end of the sample's text (its last line
 * is a sentence to continue), whatever editor has focus.
 */
export async function walkthroughSampleEnd(
  ctx: FeatureContext,
): Promise<{ document: vscode.TextDocument; offset: number }> {
  const { document } = await openWalkthroughSample(ctx);
  return { document, offset: document.getText().trimEnd().length };
}
