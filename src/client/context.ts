import type * as vscode from 'vscode';
import type { HostClient } from './hostClient';
import type { Classifier } from './classification';
import type { Tagger } from './tagging';

/** What every feature gets: the extension context, the model host and the log. */
export interface Context {
  extension: vscode.ExtensionContext;
  host: HostClient;
  log: vscode.LogOutputChannel;
  tagger: Tagger;
  classifier: Classifier;
}
