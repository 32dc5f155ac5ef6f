import * as vscode from 'vscode';

/**
 * The editor a command works on: the active one, or the only visible one when focus is elsewhere
 * (a walkthrough button, the Explorer, a panel).
 */
export function targetEditor(): vscode.TextEditor | undefined {
  const visible = vscode.window.visibleTextEditors;
  return vscode.window.activeTextEditor ?? (visible.length === 1 ? visible[0] : undefined);
}
