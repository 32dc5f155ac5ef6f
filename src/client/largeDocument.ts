import * as vscode from 'vscode';
import type { WindowProgress } from '../protocol';
import { settings } from './settings';

/**
 * Every command asks before it sends more than "gpt2Heads.maxDocumentChars" characters to the
 * model host (automatic features skip such documents instead). Resolves true to go on.
 * `verb` names the action on the button, e.g. "Classify" → "Classify Anyway".
 */
export async function confirmLargeText(
  length: number,
  verb: string,
  resource?: vscode.Uri,
): Promise<boolean> {
  const limit = settings.maxDocumentChars(resource);
  if (length <= limit) return true;
  const proceed = vscode.l10n.t('{0} Anyway', verb);
  const answer = await vscode.window.showWarningMessage(
    vscode.l10n.t(
      'This text has {0} characters, more than "gpt2Heads.maxDocumentChars" ({1}). It may take a while.',
      length.toLocaleString('en-US'),
      limit.toLocaleString('en-US'),
    ),
    { modal: true },
    proceed,
  );
  return answer === proceed;
}

/** Runs `work` behind a progress notification titled `title` whose Cancel cancels `token`. */
export function withCancellableProgress<T>(
  title: string,
  work: (
    progress: vscode.Progress<{ message?: string; increment?: number }>,
    token: vscode.CancellationToken,
  ) => Thenable<T>,
): Thenable<T> {
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title, cancellable: true },
    work,
  );
}

/** Reports windows done / total of a host request as a percentage on a progress notification. */
export function windowReporter(
  progress: vscode.Progress<{ message?: string; increment?: number }>,
): (windows: WindowProgress) => void {
  let reported = 0;
  return ({ done, total }) => {
    const percent = (100 * done) / Math.max(total, 1);
    progress.report({
      message: vscode.l10n.t(
        '{0}% ({1} of {2})',
        Math.floor(percent),
        done,
        countOf(total, 'window'),
      ),
      increment: Math.max(0, percent - reported),
    });
    reported = Math.max(reported, percent);
  };
}

/** "1 window", "3 windows": a count with its noun in the right number. */
export function countOf(count: number, noun: string): string {
  return `${count.toLocaleString('en-US')} ${noun}${count === 1 ? '' : 's'}`;
}
