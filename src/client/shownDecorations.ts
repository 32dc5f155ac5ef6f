import * as vscode from 'vscode';

/**
 * What each feature last painted in each document, by name: the extension's API gives it to
 * the integration tests, which assert on what the user sees.
 */
const shown = new Map<string, Map<string, vscode.Range[]>>();

/** Sets a decoration type's ranges in an editor and records them under `name`. */
export function paint(
  editor: vscode.TextEditor,
  type: vscode.TextEditorDecorationType,
  name: string,
  decorations: vscode.Range[] | vscode.DecorationOptions[],
): void {
  editor.setDecorations(type, decorations);
  const key = editor.document.uri.toString();
  let byName = shown.get(key);
  if (!byName) shown.set(key, (byName = new Map()));
  if (decorations.length === 0) byName.delete(name);
  else {
    const first = decorations[0];
    byName.set(
      name,
      first instanceof vscode.Range
        ? (decorations as vscode.Range[])
        : (decorations as vscode.DecorationOptions[]).map((d) => d.range),
    );
  }
  if (byName.size === 0) shown.delete(key);
}

/** Forgets a decoration everywhere: its type was disposed, which cleared it in every editor. */
export function forgetDecoration(name: string): void {
  for (const [key, byName] of shown) {
    byName.delete(name);
    if (byName.size === 0) shown.delete(key);
  }
}

/** A closed document shows nothing (and an untitled document's URI is used again). */
export const forgetClosedDocuments = vscode.workspace.onDidCloseTextDocument((document) =>
  shown.delete(document.uri.toString()),
);

export function shownDecorations(uri: vscode.Uri): Record<string, vscode.Range[]> {
  return Object.fromEntries(shown.get(uri.toString()) ?? []);
}
