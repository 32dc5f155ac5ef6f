import * as vscode from 'vscode';
import { registerCommands } from './client/commands';
import type { Context } from './client/context';
import { HostClient, type HostState } from './client/hostClient';
import { registerHostStatusBar } from './client/statusBar';

/** What the extension exports: used by its integration tests and by other extensions. */
export interface Gpt2HeadsApi {
  hostState(): HostState;
  hostStatusBar(): vscode.StatusBarItem;
}

let host: HostClient | undefined;

export function activate(context: vscode.ExtensionContext): Gpt2HeadsApi {
  const log = vscode.window.createOutputChannel('GPT-2 Heads', { log: true });
  host = new HostClient(context, log);
  const ctx: Context = { extension: context, host, log };
  const [statusItem, ...statusDisposables] = registerHostStatusBar(host);
  context.subscriptions.push(log, host, statusItem, ...statusDisposables, ...registerCommands(ctx));
  const running = host;
  return {
    hostState: () => running.state,
    hostStatusBar: () => statusItem as vscode.StatusBarItem,
  };
}

export async function deactivate(): Promise<void> {
  await host?.stop();
}
