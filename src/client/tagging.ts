import * as vscode from 'vscode';
import { targetEditor } from './editors';
import { methods, type TaggedSpan, type TaggingRole, type TagResult } from '../protocol';
import type { FeatureContext } from './context';
import { escapeMarkdown } from '../text/markdown';
import { modelDisplayName } from '../text/modelName';
import { isNotConfigured, showError } from './errors';
import { servesLanguage, settings } from './settings';

const roles: TaggingRole[] = ['ner', 'pos'];

/** Full names for the usual CoNLL entity groups and the Universal POS tags. */
const labelNames: Record<string, string> = {
  PER: 'person',
  ORG: 'organization',
  LOC: 'location',
  MISC: 'miscellaneous',
  ADJ: 'adjective',
  ADP: 'adposition',
  ADV: 'adverb',
  AUX: 'auxiliary',
  CCONJ: 'coordinating conjunction',
  DET: 'determiner',
  INTJ: 'interjection',
  NOUN: 'noun',
  NUM: 'numeral',
  PART: 'particle',
  PRON: 'pronoun',
  PROPN: 'proper noun',
  PUNCT: 'punctuation',
  SCONJ: 'subordinating conjunction',
  SYM: 'symbol',
  VERB: 'verb',
  X: 'other',
};

// Mid-saturation hues that read on light, dark and high-contrast backgrounds as a tint plus a
// border (NER) or an underline (POS).
const palette = [
  '#e5534b',
  '#2f81f7',
  '#3fb950',
  '#d29922',
  '#a371f7',
  '#db61a2',
  '#39c5cf',
  '#f0883e',
  '#8b949e',
  '#56d364',
];
const knownColors: Record<string, string> = {
  PER: '#e5534b',
  ORG: '#2f81f7',
  LOC: '#3fb950',
  MISC: '#d29922',
};

export function describeLabel(label: string): string {
  const bare = label.replace(/^[BIES]-/, '');
  const name = labelNames[bare];
  return name ? `${label} — ${name}` : label;
}

function colorFor(label: string): string {
  const custom = settings.labelColors()[label];
  if (custom) return custom;
  if (knownColors[label]) return knownColors[label];
  let hash = 0;
  for (const char of label) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return palette[hash % palette.length];
}

/** A tagged span with its range in the document as it is now. */
export interface DocumentSpan extends TaggedSpan {
  role: TaggingRole;
  range: vscode.Range;
}

interface RoleState {
  result: TagResult;
  spans: DocumentSpan[];
  /** The document version the host tagged; edits since then only moved the spans. */
  version: number;
}

interface DocumentState {
  roles: Partial<Record<TaggingRole, RoleState>>;
  pending: Partial<Record<TaggingRole, vscode.CancellationTokenSource>>;
  timer?: ReturnType<typeof setTimeout>;
}

/**
 * NER and POS over whole documents: decorations per label, hovers, "Go to Entity…", and
 * automatic re-tagging on edits (debounced; a newer edit cancels the running request).
 */
export class Tagger implements vscode.Disposable {
  private readonly documents = new Map<string, DocumentState>();
  private readonly decorationTypes = new Map<string, vscode.TextEditorDecorationType>();
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
          this.resetDecorationTypes();
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
    return roles.filter((r) => !role || r === role).flatMap((r) => state.roles[r]?.spans ?? []);
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
    if (document.getText().length > settings.maxDocumentChars()) {
      const answer = await vscode.window.showWarningMessage(
        vscode.l10n.t(
          'This document has {0} characters, more than "gpt2Heads.maxDocumentChars" ({1}). Tagging it may take a while.',
          document.getText().length.toLocaleString(),
          settings.maxDocumentChars().toLocaleString(),
        ),
        { modal: true },
        'Tag Anyway',
      );
      if (answer !== 'Tag Anyway') return undefined;
    }
    const title = role === 'ner' ? 'tagging entities' : 'tagging parts of speech';
    try {
      return await vscode.window.withProgress(
        {
          location: vscode.ProgressLocation.Notification,
          title: vscode.l10n.t('GPT-2 Heads: {0}…', title),
          cancellable: true,
        },
        (_progress, token) => this.tag(document, role, token),
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
      for (const source of Object.values(state.pending)) source?.cancel();
      if (state.timer) clearTimeout(state.timer);
      this.documents.delete(key);
    }
    this.renderAll();
    if (uri) this.changeEmitter.fire(uri);
  }

  dispose(): void {
    this.clear();
    for (const type of this.decorationTypes.values()) type.dispose();
    for (const disposable of this.disposables) disposable.dispose();
  }

  private async tag(
    document: vscode.TextDocument,
    role: TaggingRole,
    outer?: vscode.CancellationToken,
  ): Promise<DocumentSpan[]> {
    const state = this.stateOf(document.uri);
    state.pending[role]?.cancel();
    const source = new vscode.CancellationTokenSource();
    state.pending[role] = source;
    const cancelOuter = outer?.onCancellationRequested(() => source.cancel());
    const version = document.version;
    const text = document.getText();
    try {
      const result = await this.ctx.host.request(
        methods.tag,
        {
          role,
          uri: document.uri.toString(),
          text,
          aggregation_strategy: settings.aggregationStrategy(),
          ignore_labels: settings.ignoreLabels(),
          context: settings.taggingContext() || undefined,
        },
        source.token,
      );
      if (document.version !== version || source.token.isCancellationRequested) {
        throw new vscode.CancellationError();
      }
      const spans = result.spans.map((span) => ({
        ...span,
        role,
        range: new vscode.Range(document.positionAt(span.start), document.positionAt(span.end)),
      }));
      this.stateOf(document.uri).roles[role] = { result, spans, version };
      this.ctx.log.info(
        `Tagged ${role.toUpperCase()} in ${document.uri.toString(true)}: ${spans.length} spans, ` +
          `${result.windows} windows (${result.cachedWindows} cached), ${result.tokens} tokens.`,
      );
      this.renderAll();
      this.changeEmitter.fire(document.uri);
      return spans;
    } finally {
      cancelOuter?.dispose();
      if (state.pending[role] === source) delete state.pending[role];
      source.dispose();
    }
  }

  private stateOf(uri: vscode.Uri): DocumentState {
    const key = uri.toString();
    let state = this.documents.get(key);
    if (!state) {
      state = { roles: {}, pending: {} };
      this.documents.set(key, state);
    }
    return state;
  }

  private forget(uri: vscode.Uri): void {
    if (this.documents.has(uri.toString())) this.clear(uri);
  }

  /** Keeps spans on their text while the document is edited; spans an edit touches are dropped. */
  private onEdit(event: vscode.TextDocumentChangeEvent): void {
    const state = this.documents.get(event.document.uri.toString());
    if (event.contentChanges.length === 0) return;
    if (state) {
      for (const role of roles) {
        const roleState = state.roles[role];
        if (!roleState) continue;
        roleState.spans = shiftSpans(roleState.spans, event.contentChanges, event.document);
      }
      this.renderAll();
      this.changeEmitter.fire(event.document.uri);
    }
    if (settings.autoTag() && servesLanguage(event.document)) this.schedule(event.document);
  }

  private schedule(document: vscode.TextDocument): void {
    const state = this.stateOf(document.uri);
    for (const source of Object.values(state.pending)) source?.cancel();
    if (state.timer) clearTimeout(state.timer);
    state.timer = setTimeout(() => {
      state.timer = undefined;
      void this.autoTag(document);
    }, settings.taggingDebounceMs());
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

  private async autoTag(document: vscode.TextDocument): Promise<void> {
    if (document.isClosed || document.getText().length > settings.maxDocumentChars()) return;
    for (const role of roles) {
      try {
        await this.tag(document, role);
      } catch (error) {
        // A head nobody configured is simply not shown; other failures are reported once.
        if (!(error instanceof vscode.CancellationError) && !isNotConfigured(error)) {
          this.ctx.log.error(
            `Automatic ${role.toUpperCase()} tagging failed: ${(error as Error).message}`,
          );
        }
      }
    }
  }

  private hover(
    document: vscode.TextDocument,
    position: vscode.Position,
  ): vscode.Hover | undefined {
    const hits = this.spans(document.uri).filter(
      (span) => span.range.contains(position) && !span.range.isEmpty,
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

  private decorationType(role: TaggingRole, label: string): vscode.TextEditorDecorationType {
    const key = `${role}:${label}`;
    let type = this.decorationTypes.get(key);
    if (!type) {
      const color = colorFor(label);
      type =
        role === 'ner'
          ? vscode.window.createTextEditorDecorationType({
              backgroundColor: `${color}33`,
              border: `1px solid ${color}`,
              borderRadius: '3px',
              after: settings.showLabels()
                ? { contentText: ` ${label}`, color, fontStyle: 'italic', margin: '0 0 0 2px' }
                : undefined,
              overviewRulerColor: color,
              overviewRulerLane: vscode.OverviewRulerLane.Right,
              rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
            })
          : vscode.window.createTextEditorDecorationType({
              textDecoration: `underline dotted ${color}`,
              rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
            });
      this.decorationTypes.set(key, type);
    }
    return type;
  }

  private resetDecorationTypes(): void {
    for (const type of this.decorationTypes.values()) type.dispose();
    this.decorationTypes.clear();
  }

  private renderAll(): void {
    for (const editor of vscode.window.visibleTextEditors) {
      const byType = new Map<vscode.TextEditorDecorationType, vscode.Range[]>();
      const text = editor.document.getText();
      for (const span of this.spans(editor.document.uri)) {
        // Shown without the spaces and line breaks a span may begin or end with.
        let start = span.start;
        let end = span.end;
        while (start < end && /\s/.test(text[start])) start++;
        while (end > start && /\s/.test(text[end - 1])) end--;
        if (start === end) continue;
        const type = this.decorationType(span.role, span.label);
        let ranges = byType.get(type);
        if (!ranges) byType.set(type, (ranges = []));
        ranges.push(
          new vscode.Range(editor.document.positionAt(start), editor.document.positionAt(end)),
        );
      }
      // Types without spans here are set to nothing, which clears what they showed before.
      for (const type of this.decorationTypes.values()) {
        editor.setDecorations(type, byType.get(type) ?? []);
      }
    }
  }
}

/** Moves spans after each change by its length difference; spans that overlap a change go. */
function shiftSpans(
  spans: DocumentSpan[],
  changes: readonly vscode.TextDocumentContentChangeEvent[],
  document: vscode.TextDocument,
): DocumentSpan[] {
  let current = spans;
  // Changes are reported against the document before the event, last change first is safe.
  const ordered = [...changes].sort((a, b) => b.rangeOffset - a.rangeOffset);
  for (const change of ordered) {
    const start = change.rangeOffset;
    const end = start + change.rangeLength;
    const delta = change.text.length - change.rangeLength;
    current = current.flatMap((span) => {
      if (span.end <= start) return [span];
      if (span.start >= end) return [{ ...span, start: span.start + delta, end: span.end + delta }];
      return [];
    });
  }
  return current.map((span) => ({
    ...span,
    range: new vscode.Range(document.positionAt(span.start), document.positionAt(span.end)),
  }));
}

/** "Go to Entity…": every tagged entity of the document, grouped by label. */
export async function goToEntity(tagger: Tagger): Promise<void> {
  const editor = targetEditor();
  if (!editor) return;
  const spans = tagger.spans(editor.document.uri, 'ner');
  if (spans.length === 0) {
    void vscode.window.showInformationMessage(
      vscode.l10n.t(
        'GPT-2 Heads: no entities in this document yet. Run "GPT-2 Heads: Tag Entities (NER)" first.',
      ),
    );
    return;
  }
  type Item = vscode.QuickPickItem & { span?: DocumentSpan };
  const items: Item[] = [];
  const labels = [...new Set(spans.map((span) => span.label))].sort();
  for (const label of labels) {
    items.push({ label: describeLabel(label), kind: vscode.QuickPickItemKind.Separator });
    for (const span of spans.filter((s) => s.label === label)) {
      items.push({
        label: editor.document.getText(span.range).trim() || span.word,
        description: `line ${span.range.start.line + 1} · ${span.score.toFixed(2)}`,
        span,
      });
    }
  }
  const picked = await vscode.window.showQuickPick(items, {
    title: vscode.l10n.t('GPT-2 Heads: Go to Entity'),
    placeHolder: vscode.l10n.t('Type to filter entities'),
    matchOnDescription: true,
  });
  if (picked?.span) revealRange(editor, picked.span.range);
}

export function revealRange(editor: vscode.TextEditor, range: vscode.Range): void {
  editor.selection = new vscode.Selection(range.start, range.end);
  editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
}
