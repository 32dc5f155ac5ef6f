import type * as vscode from 'vscode';
import type { HostClient } from './hostClient';
import type { Classifier } from './classification';
import type { SurprisalLens } from './surprisal';
import type { Tagger } from './tagging';

/** What every feature gets: the extension context, the model host and the log. */
export interface FeatureContext {
  extension: vscode.ExtensionContext;
  host: HostClient;
  log: vscode.LogOutputChannel;
}

/** What commands get: the features' context and the features that keep state. */
export interface Context extends FeatureContext {
  tagger: Tagger;
  classifier: Classifier;
  surprisal: SurprisalLens;
}
