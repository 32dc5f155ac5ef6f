import * as vscode from 'vscode';

/**
 * The editor a command works on: the active one, or the only visible one when focus is elsewhere
 * (a walkthrough button, the Explorer, a panel).
 */
export function targetEditor(): vscode.TextEditor | undefined {
  const visible = vscode.window.visibleTextEditors;
  return vscode.window.activeTextEditor ?? (visible.length === 1 ? visible[0] : undefined);
}

/** Selects a range and scrolls it into view (to the centre when it is off-screen). */
export function selectAndReveal(editor: vscode.TextEditor, range: vscode.Range): void {
  editor.selection = new vscode.Selection(range.start, range.end);
  editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
}

/** The visible editor showing a document, looked up afresh: editors go away when tabs change. */
export function visibleEditorOf(document: vscode.TextDocument): vscode.TextEditor | undefined {
  const active = vscode.window.activeTextEditor;
  if (active?.document === document) return active;
  return vscode.window.visibleTextEditors.find((editor) => editor.document === document);
}
