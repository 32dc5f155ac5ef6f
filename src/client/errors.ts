import * as vscode from 'vscode';
import { errorCodes } from '../protocol';
import { HostRequestError } from './hostClient';

/**
 * Shows a failed request once, with the action that fixes it; cancellations stay silent.
 * The notification is not awaited by callers' commands: they return at once.
 */
export function showError(error: unknown, log: vscode.LogOutputChannel): void {
  void notify(error, log);
}

async function notify(error: unknown, log: vscode.LogOutputChannel): Promise<void> {
  if (error instanceof vscode.CancellationError) return;
  const message = error instanceof Error ? error.message : String(error);
  log.error(message);
  const setting = settingNamedIn(message);
  const actions =
    error instanceof HostRequestError && setting ? ['Open Settings', 'Show Log'] : ['Show Log'];
  const choice = await vscode.window.showErrorMessage(`GPT-2 Heads: ${message}`, ...actions);
  if (choice === 'Open Settings') {
    await vscode.commands.executeCommand('workbench.action.openSettings', setting);
  } else if (choice === 'Show Log') {
    log.show(true);
  }
}

function settingNamedIn(message: string): string | undefined {
  return /"(gpt2Heads\.[\w.]+)"/.exec(message)?.[1];
}

export function isNotConfigured(error: unknown): boolean {
  return error instanceof HostRequestError && error.code === errorCodes.modelNotConfigured;
}
