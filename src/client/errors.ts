import * as vscode from 'vscode';
import { taskTable, type ErrorData } from '../protocol';
import { HostRequestError } from './hostClient';

/** What a failure offers, chosen from its data; each action names the setting or head it fixes. */
export function actionsFor(data: ErrorData | undefined): string[] {
  switch (data?.kind) {
    case 'notConfigured':
    case 'missingFolder':
    case 'loadFailed':
      // The head's own model is the problem: its setting, or another folder for it.
      return data.role && data.setting === taskTable[data.role].setting
        ? ['Open Settings', 'Choose a Local Model Folder…', 'Show Log']
        : data.setting
          ? ['Open Settings', 'Show Log']
          : ['Show Log'];
    case 'hostStopped':
    case 'internal':
      return ['Show Log'];
    default:
      return data?.setting ? ['Open Settings', 'Show Log'] : ['Show Log'];
  }
}

/**
 * Shows a failed request once, with the actions that fix it; cancellations stay silent.
 * The host already logged its own failures; errors from this side are logged here, once.
 * The notification is not awaited by callers' commands: they return at once.
 */
export function showError(error: unknown, log: vscode.LogOutputChannel): void {
  void notify(error, log);
}

async function notify(error: unknown, log: vscode.LogOutputChannel): Promise<void> {
  if (error instanceof vscode.CancellationError) return;
  logFailure(error, log);
  const message = error instanceof Error ? error.message : String(error);
  const data = error instanceof HostRequestError ? error.data : undefined;
  const choice = await vscode.window.showErrorMessage(
    `GPT-2 Heads: ${message}`,
    ...actionsFor(data),
  );
  if (choice === 'Open Settings') {
    const setting = data?.setting ?? (data?.role ? taskTable[data.role].setting : undefined);
    await vscode.commands.executeCommand('workbench.action.openSettings', setting);
  } else if (choice === 'Choose a Local Model Folder…') {
    await vscode.commands.executeCommand('gpt2Heads.chooseModelFolder', data?.role);
  } else if (choice === 'Show Log') {
    log.show(true);
  }
}

/** Logs a failure unless the host has (it logs each failed request once, naming the request). */
export function logFailure(error: unknown, log: vscode.LogOutputChannel, what?: string): void {
  if (error instanceof vscode.CancellationError) return;
  if (error instanceof HostRequestError && error.loggedByHost) return;
  const message = error instanceof Error ? error.message : String(error);
  log.error(what ? `${what}: ${message}` : message);
}

export function isNotConfigured(error: unknown): boolean {
  return error instanceof HostRequestError && error.data?.kind === 'notConfigured';
}
