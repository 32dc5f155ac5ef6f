import * as vscode from 'vscode';
import { targetEditor } from './editors';
import {
  methods,
  tagChunk,
  taggingRoles,
  type TaggedSpan,
  type TaggingRole,
  type TagParams,
  type TagResult,
} from '../protocol';
import type { FeatureContext } from './context';
import { escapeMarkdown } from '../text/markdown';
import { modelDisplayName } from '../text/modelName';
import { isNotConfigured, logFailure, showError } from './errors';
import {
  confirmLargeText,
  countOf,
  windowReporter,
  withCancellableProgress,
} from './largeDocument';
import { LatestRequest } from './latestRequest';
import { servesLanguage, settings } from './settings';
import { describeLabel, TagDecorations } from './tagDecorations';
import { shiftSpans, visibleSpans } from '../text/spans';
import { waitingFor } from './firstUse';

const roles = taggingRoles;

/** What the editors showing the document show of it, as UTF-16 offsets (their windows go first). */
function visibleRangesOf(document: vscode.TextDocument): TagParams['visibleRanges'] {
  const ranges = vscode.window.visibleTextEditors
    .filter((editor) => editor.document === document)
    .flatMap((editor) => editor.visibleRanges)
    .map((range) => ({
      start: document.offsetAt(range.start),
      end: document.offsetAt(range.end),
    }));
  return ranges.length > 0 ? ranges : undefined;
}
/** After an edit dropped spans, their decorations are painted again this much later. */
const repaintDelayMs = 150;

/** A tagged span with its range in the document as it is now. */
export interface DocumentSpan extends TaggedSpan {
  role: TaggingRole;
  readonly range: vscode.Range;
}

/**
 * A span whose offsets follow edits (shifted in place) and whose range is made when asked for:
 * a keystroke in a document with 100,000 entities must not build 100,000 ranges.
 */
class TagSpan implements DocumentSpan {
  label: string;
  score: number;
  word: string;
  start: number;
  end: number;

  constructor(
    private readonly document: vscode.TextDocument,
    readonly role: TaggingRole,
    span: TaggedSpan,
  ) {
    this.label = span.label;
    this.score = span.score;
    this.word = span.word;
    this.start = span.start;
    this.end = span.end;
  }

  get range(): vscode.Range {
    return new vscode.Range(
      this.document.positionAt(this.start),
      this.document.positionAt(this.end),
    );
  }
}

interface RoleState {
  result: TagResult;
  spans: DocumentSpan[];
  /** The document version the host tagged; edits since then only moved the spans. */
  version: number;
}

interface DocumentState {
  roles: Partial<Record<TaggingRole, RoleState>>;
  /** The request of each role: a newer one cancels the older. */
  requests: Record<TaggingRole, LatestRequest>;
  /** Automatic tagging after edits, debounced. */
  auto: LatestRequest;
  /** Spans of the windows done so far, shown until a role's first result arrives. */
  partial: Partial<Record<TaggingRole, DocumentSpan[]>>;
}

/**
 * NER and POS over whole documents: decorations per label, hovers, "Go to Entity…", and
 * automatic re-tagging on edits (debounced; a newer edit cancels the running request).
 */
export class Tagger implements vscode.Disposable {
  private readonly documents = new Map<string, DocumentState>();
  private readonly decorations = new TagDecorations();
  private repaintTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly changeEmitter = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChangeTags = this.changeEmitter.event;

  constructor(private readonly ctx: FeatureContext) {
    this.disposables.push(
      this.changeEmitter,
      vscode.workspace.onDidChangeTextDocument((event) => this.onEdit(event)),
      vscode.workspace.onDidCloseTextDocument((document) => this.forget(document.uri)),
      vscode.window.onDidChangeVisibleTextEditors(() => {
        this.renderAll();
        this.autoTagVisible();
      }),
      vscode.workspace.onDidChangeConfiguration((event) => {
        if (event.affectsConfiguration('gpt2Heads.tagging')) {
          this.decorations.reset();
          this.renderAll();
          this.autoTagVisible();
        }
      }),
      vscode.languages.registerHoverProvider(
        { pattern: '**' },
        { provideHover: (d, p) => this.hover(d, p) },
      ),
    );
    this.autoTagVisible();
  }

  spans(uri: vscode.Uri, role?: TaggingRole): DocumentSpan[] {
    const state = this.documents.get(uri.toString());
    if (!state) return [];
    return roles
      .filter((r) => !role || r === role)
      .flatMap((r) => state.roles[r]?.spans ?? state.partial[r] ?? []);
  }

  taggedVersion(uri: vscode.Uri, role: TaggingRole): number | undefined {
    return this.documents.get(uri.toString())?.roles[role]?.version;
  }

  result(uri: vscode.Uri, role: TaggingRole): TagResult | undefined {
    return this.documents.get(uri.toString())?.roles[role]?.result;
  }

  /** Tags a document (from a command: asks first for huge documents, shows progress). */
  async tagCommand(role: TaggingRole, uri?: vscode.Uri): Promise<DocumentSpan[] | undefined> {
    const document = uri ? await vscode.workspace.openTextDocument(uri) : targetEditor()?.document;
    if (!document) {
      void vscode.window.showInformationMessage(
        vscode.l10n.t('GPT-2 Heads: open a document to tag.'),
      );
      return undefined;
    }
    if (!(await confirmLargeText(document.getText().length, 'Tag', document.uri))) return undefined;
    const title = role === 'ner' ? 'tagging entities' : 'tagging parts of speech';
    try {
      return await withCancellableProgress(
        vscode.l10n.t('GPT-2 Heads: {0}…', title),
        (progress, token) => this.tag(document, role, token, progress),
      );
    } catch (error) {
      showError(error, this.ctx.log);
      return undefined;
    }
  }

  clear(uri?: vscode.Uri): void {
    const targets = uri ? [uri.toString()] : [...this.documents.keys()];
    for (const key of targets) {
      const state = this.documents.get(key);
      if (!state) continue;
      cancelAll(state);
      this.documents.delete(key);
    }
    this.renderAll();
    if (uri) this.changeEmitter.fire(uri);
  }

  dispose(): void {
    this.clear();
    if (this.repaintTimer) clearTimeout(this.repaintTimer);
    if (this.partialTimer) clearTimeout(this.partialTimer);
    this.decorations.dispose();
    for (const disposable of this.disposables) disposable.dispose();
  }

  private tag(
    document: vscode.TextDocument,
    role: TaggingRole,
    outer?: vscode.CancellationToken,
    progress?: vscode.Progress<{ message?: string; increment?: number }>,
  ): Promise<DocumentSpan[]> {
    return this.stateOf(document.uri).requests[role].run(async (token) => {
      const version = document.version;
      const text = document.getText();
      // The host has the document's text (DocumentSync): the request names it, at this version.
      const params: TagParams = {
        role,
        textDocument: { uri: document.uri.toString(), version },
        aggregation_strategy: settings.aggregationStrategy(document.uri),
        ignore_labels: settings.ignoreLabels(document.uri),
        leftContextTokens: settings.taggingContext(document.uri) || undefined,
        visibleRanges: visibleRangesOf(document),
      };
      const result = await this.withPartialSpans(document, role, version, (partialResultToken) =>
        this.ctx.host.requestWithProgress(
          methods.tag,
          { ...params, partialResultToken },
          progress && windowReporter(progress),
          token,
        ),
      );
      if (document.version !== version || token.isCancellationRequested) {
        throw new vscode.CancellationError();
      }
      // Trimmed and deduplicated once, here: the decorations, hovers, Go to Entity and the
      // Entities view all read these ranges.
      const spans = visibleSpans(text, result.spans).map(
        (span) => new TagSpan(document, role, span),
      );
      this.stateOf(document.uri).roles[role] = { result, spans, version };
      this.ctx.log.info(
        `Tagged ${role.toUpperCase()} in ${document.uri.toString(true)}: ${countOf(spans.length, 'span')}, ` +
          `${countOf(result.windows, 'window')} (${result.cachedWindows} cached), ${countOf(result.tokens, 'token')}.`,
      );
      this.renderAll();
      this.changeEmitter.fire(document.uri);
      return spans;
    }, outer);
  }

  /**
   * Runs a tag request whose windows' spans arrive as they are done (those on screen first) and
   * paints them while the document has no tags of this role yet; the final result replaces them.
   */
  private async withPartialSpans<R>(
    document: vscode.TextDocument,
    role: TaggingRole,
    version: number,
    request: (partialResultToken: string) => Promise<R>,
  ): Promise<R> {
    const client = await this.ctx.host.prepare(methods.tag.method, { role });
    const partialResultToken = `gpt2Heads-tag-${role}-${Date.now()}-${++this.partialCounter}`;
    const state = this.stateOf(document.uri);
    const subscription = client.onProgress(tagChunk, partialResultToken, (chunk) => {
      if (state.roles[role] || document.version !== version) return;
      const text = document.getText();
      const spans = visibleSpans(text, chunk.spans).map(
        (span) => new TagSpan(document, role, span),
      );
      state.partial[role] = [...(state.partial[role] ?? []), ...spans];
      this.renderSoon();
    });
    try {
      return await request(partialResultToken);
    } finally {
      subscription.dispose();
      delete state.partial[role];
    }
  }

  private partialCounter = 0;
  private partialTimer: ReturnType<typeof setTimeout> | undefined;

  /** Windows finish in bursts: one repaint for the spans of those that finish together. */
  private renderSoon(): void {
    this.partialTimer ??= setTimeout(() => {
      this.partialTimer = undefined;
      this.renderAll();
    }, 30);
  }

  private stateOf(uri: vscode.Uri): DocumentState {
    const key = uri.toString();
    let state = this.documents.get(key);
    if (!state) {
      state = {
        roles: {},
        requests: { ner: new LatestRequest(), pos: new LatestRequest() },
        auto: new LatestRequest(),
        partial: {},
      };
      this.documents.set(key, state);
    }
    return state;
  }

  private forget(uri: vscode.Uri): void {
    if (this.documents.has(uri.toString())) this.clear(uri);
  }

  /**
   * Keeps spans on their text while the document is edited; spans an edit touches are dropped.
   * The editor moves the decorations itself (they do not widen at their edges, like the spans),
   * so they are painted again only when spans were dropped, once typing pauses.
   */
  private onEdit(event: vscode.TextDocumentChangeEvent): void {
    const state = this.documents.get(event.document.uri.toString());
    if (event.contentChanges.length === 0) return;
    if (state) {
      // Spans of a request still running are for the text before the edit.
      state.partial = {};
      const changes = event.contentChanges.map((change) => ({
        offset: change.rangeOffset,
        removed: change.rangeLength,
        inserted: change.text.length,
      }));
      let dropped = false;
      for (const role of roles) {
        const roleState = state.roles[role];
        if (!roleState) continue;
        const kept = shiftSpans(roleState.spans, changes);
        dropped ||= kept !== roleState.spans;
        roleState.spans = kept;
      }
      if (dropped) this.repaintSoon();
      this.changeEmitter.fire(event.document.uri);
    }
    if (settings.autoTag() && servesLanguage(event.document)) this.schedule(event.document);
  }

  private repaintSoon(): void {
    if (this.repaintTimer) clearTimeout(this.repaintTimer);
    this.repaintTimer = setTimeout(() => {
      this.repaintTimer = undefined;
      this.renderAll();
    }, repaintDelayMs);
  }

  private schedule(document: vscode.TextDocument): void {
    const state = this.stateOf(document.uri);
    cancelAll(state);
    state.auto.schedule(settings.taggingDebounceMs(), (token) => this.autoTag(document, token));
  }

  private autoTagVisible(): void {
    if (!settings.autoTag()) return;
    for (const editor of vscode.window.visibleTextEditors) {
      const document = editor.document;
      if (!servesLanguage(document)) continue;
      const state = this.documents.get(document.uri.toString());
      if (!state || roles.some((role) => !state.roles[role])) this.schedule(document);
    }
  }

  private async autoTag(
    document: vscode.TextDocument,
    token: vscode.CancellationToken,
  ): Promise<void> {
    if (document.isClosed || document.getText().length > settings.maxDocumentChars()) return;
    for (const role of roles) {
      if (token.isCancellationRequested) return;
      // A model that still needs the user's agreement to download is not fetched automatically.
      if (waitingFor(role)) continue;
      try {
        await this.tag(document, role, token);
      } catch (error) {
        // A head nobody configured is simply not shown; other failures are reported once.
        if (!(error instanceof vscode.CancellationError) && !isNotConfigured(error)) {
          logFailure(error, this.ctx.log, `Automatic ${role.toUpperCase()} tagging failed`);
        }
      }
    }
  }

  private hover(
    document: vscode.TextDocument,
    position: vscode.Position,
  ): vscode.Hover | undefined {
    // A span covers [start, end): the character after its end (a space) is not part of it.
    const offset = document.offsetAt(position);
    const hits = this.spans(document.uri).filter(
      (span) => span.start <= offset && offset < span.end,
    );
    if (hits.length === 0) return undefined;
    const markdown = new vscode.MarkdownString();
    markdown.supportHtml = false;
    markdown.isTrusted = false;
    for (const span of hits) {
      const model = this.result(document.uri, span.role)?.model ?? '';
      const kind = span.role === 'ner' ? 'Entity' : 'Part of speech';
      markdown.appendMarkdown(
        `**${escapeMarkdown(describeLabel(span.label))}** · ${kind} · score ${span.score.toFixed(3)}  \n`,
      );
      markdown.appendMarkdown(`model: ${escapeMarkdown(modelDisplayName(model))}\n\n`);
    }
    return new vscode.Hover(markdown, hits[0].range);
  }

  private renderAll(): void {
    this.decorations.paintAll((document) => this.spans(document.uri));
  }
}

function cancelAll(state: DocumentState): void {
  state.auto.cancel();
  for (const role of roles) state.requests[role].cancel();
}
