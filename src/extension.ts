import * as vscode from 'vscode';
import { Classifier } from './client/classification';
import { registerCommands, type Context } from './client/commands';
import { openDemoWalkthrough } from './client/demo';
import { EntityTree } from './client/entityTree';
import { InlineSuggestions } from './client/inlineCompletions';
import { answerDecorationTypes } from './client/questionAnswering';
import { choiceDisposables } from './client/multipleChoice';
import type { FeatureContext } from './client/context';
import { HostClient, type HostState } from './client/hostClient';
import { forgetClosedDocuments, shownDecorations } from './client/shownDecorations';
import { FirstUse, type ConsentAnswer, type ConsentQuestion } from './client/firstUse';
import { registerHostStatusBar } from './client/statusBar';
import { registerEndpointStatusBar } from './client/endpointStatus';
import { SurprisalLens, type RenderedLens, type SurprisalView } from './client/surprisal';
import { Tagger, type DocumentSpan } from './client/tagging';
import type { ServerStatus, TaggingRole } from './protocol';

/** What the extension exports: used by its integration tests and by other extensions. */
export interface Gpt2HeadsApi {
  /** How long activate() took. */
  activationMs(): number;
  hostState(): HostState;
  hostStatusBar(): vscode.StatusBarItem;
  /** What the model host reports of itself (health, quiescence, models), as it reports it. */
  onDidChangeHostStatus: vscode.Event<ServerStatus>;
  /** The spans shown for a document, with their current ranges. */
  taggedSpans(uri: vscode.Uri, role?: TaggingRole): DocumentSpan[];
  onDidChangeTags: vscode.Event<vscode.Uri>;
  /** The document version the spans were computed for (edits since then only moved them). */
  taggedVersion(uri: vscode.Uri, role: TaggingRole): number | undefined;
  /** The text of the "sequence" or "document" classification status bar item. */
  classificationStatus(scope: 'sequence' | 'document'): string | undefined;
  /** The last inline suggestion and whether it came from the suggestion cache. */
  lastInlineSuggestion(): InlineSuggestions['lastRequest'];
  /** The ranges each feature last painted in a document, by decoration name (edits since then move them in the editor, not here). */
  shownDecorations(uri: vscode.Uri): Record<string, vscode.Range[]>;
  /** Answers the first-use download question instead of the notification (for tests). */
  answerDownloadQuestions(
    answer: (question: ConsentQuestion) => Thenable<ConsentAnswer | undefined>,
  ): void;
  /** What the surprisal lens shows for a document, and when that changes. */
  surprisal(uri: vscode.Uri): SurprisalView | undefined;
  onDidChangeSurprisal: vscode.Event<vscode.Uri>;
  /** The coloured ranges the lens last set on the document's editor, per step and outliers. */
  surprisalDecorations(uri: vscode.Uri): RenderedLens | undefined;
  /** The perplexity status bar item's text, when the lens is on for the active editor. */
  surprisalStatus(): string | undefined;
}

let host: HostClient | undefined;

export function activate(context: vscode.ExtensionContext): Gpt2HeadsApi {
  const started = performance.now();
  const log = vscode.window.createOutputChannel('GPT-2 Heads', { log: true });
  host = new HostClient(context, log);
  const firstUse = new FirstUse(context);
  host.beforeRequest = firstUse.beforeRequest;
  const features: FeatureContext = { extension: context, host, log };
  const tagger = new Tagger(features);
  const classifier = new Classifier(features);
  const inline = new InlineSuggestions(features);
  const entityTree = new EntityTree(tagger);
  const surprisal = new SurprisalLens(features);
  const ctx: Context = { ...features, tagger, classifier, surprisal };
  const [statusItem, ...statusDisposables] = registerHostStatusBar(host);
  context.subscriptions.push(
    log,
    host,
    firstUse,
    tagger,
    classifier,
    inline,
    entityTree,
    surprisal,
    ...answerDecorationTypes,
    ...choiceDisposables,
    forgetClosedDocuments,
    statusItem,
    ...statusDisposables,
    ...registerCommands(ctx),
    ...registerEndpointStatusBar(features),
  );
  const running = host;
  const activationMs = performance.now() - started;
  log.info(`Activated in ${activationMs.toFixed(1)} ms; the model host starts on first use.`);
  void openDemoWalkthrough(context).catch((error: unknown) =>
    log.warn(`The walkthrough did not open: ${(error as Error).message}`),
  );
  return {
    activationMs: () => activationMs,
    hostState: () => running.state,
    hostStatusBar: () => statusItem as vscode.StatusBarItem,
    onDidChangeHostStatus: running.onDidChangeStatus,
    taggedSpans: (uri, role) => tagger.spans(uri, role),
    onDidChangeTags: tagger.onDidChangeTags,
    taggedVersion: (uri, role) => tagger.taggedVersion(uri, role),
    classificationStatus: (scope) => classifier.statusText(scope),
    lastInlineSuggestion: () => inline.lastRequest,
    shownDecorations,
    answerDownloadQuestions: (answer) => (firstUse.prompt = answer),
    surprisal: (uri) => surprisal.view(uri),
    onDidChangeSurprisal: surprisal.onDidChange,
    surprisalDecorations: (uri) => surprisal.decorations(uri),
    surprisalStatus: () => surprisal.statusText(),
  };
}

export async function deactivate(): Promise<void> {
  await host?.stop();
}
