import type * as vscode from 'vscode';
import type { HostClient } from './hostClient';

/** What every feature gets: the extension context, the model host and the log. */
export interface FeatureContext {
  extension: vscode.ExtensionContext;
  host: HostClient;
  log: vscode.LogOutputChannel;
}
