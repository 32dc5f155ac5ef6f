import type * as vscode from 'vscode';
import type { HostClient } from './hostClient';

/**
 * What every feature gets: the extension context, the model host and the log. Features that
 * keep state (the tagger, the classifier) are handed to the commands in commands.ts, so this
 * file imports no feature and no feature imports another through it.
 */
export interface FeatureContext {
  extension: vscode.ExtensionContext;
  host: HostClient;
  log: vscode.LogOutputChannel;
}
