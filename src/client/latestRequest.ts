import * as vscode from 'vscode';

/**
 * "The latest request wins": starting a run cancels the one that waits or runs, and a scheduled
 * run waits for a quiet moment first (debounce). A run's token is cancelled when a newer run
 * replaces it, on cancel(), or when the outer token given to run() is.
 */
export class LatestRequest implements vscode.Disposable {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private source: vscode.CancellationTokenSource | undefined;

  /** Replaces the previous run with `task` after `delayMs` without a newer call; `task` reports its own errors. */
  schedule(delayMs: number, task: (token: vscode.CancellationToken) => Promise<void>): void {
    this.cancel();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.run(task);
    }, delayMs);
  }

  /** Replaces the previous run with `task`, now. */
  async run<T>(
    task: (token: vscode.CancellationToken) => Promise<T>,
    outer?: vscode.CancellationToken,
  ): Promise<T> {
    this.cancel();
    const source = new vscode.CancellationTokenSource();
    this.source = source;
    const link = outer?.onCancellationRequested(() => source.cancel());
    try {
      return await task(source.token);
    } finally {
      link?.dispose();
      if (this.source === source) this.source = undefined;
      source.dispose();
    }
  }

  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.source?.cancel();
    this.source = undefined;
  }

  dispose(): void {
    this.cancel();
  }
}
