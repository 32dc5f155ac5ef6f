import * as vscode from 'vscode';
import {
  nextSurprising,
  normalizeThresholds,
  summarize,
  surprisalBits,
  surprisalStep,
} from '../heads/surprisal';
import { methods, type SurprisalResult } from '../protocol';
import { escapeMarkdown } from '../text/markdown';
import type { FeatureContext } from './context';
import { targetEditor } from './editors';
import { showError } from './errors';
import { settings } from './settings';
import { selectAndReveal } from './editors';
import { createStatusItem } from './statusBar';
import { withCancellableProgress } from './largeDocument';

/** Alternatives the hover lists. */
const alternativesShown = 5;

/** Theme colours of the steps (package.json contributes them for light, dark and high contrast). */
const stepColors = [1, 2, 3, 4, 5].map((i) => `gpt2Heads.surprisal.step${i}`);
const outlierColor = 'gpt2Heads.surprisal.outlier';

const config = () => vscode.workspace.getConfiguration('gpt2Heads.surprisal');
const lensSettings = {
  /** Ascending thresholds in bits, at most one per theme colour. */
  steps: () =>
    normalizeThresholds(config().get<unknown[]>('colorSteps') ?? []).slice(0, stepColors.length),
  threshold: () => config().get<number>('threshold') ?? 12,
  debounceMs: () => config().get<number>('debounceMs') ?? 600,
};

/** One token of the lens, with its offsets in the document as it is now. */
export interface LensToken {
  start: number;
  end: number;
  /** The offsets shown: the token without the spaces or line breaks at its ends. */
  shownStart: number;
  shownEnd: number;
  logprob: number | null;
  bits: number | null;
  alternatives: [token: string, logprob: number][];
  range: vscode.Range;
}

/** What the lens shows for a document, for the status bar, the tests and the API. */
export interface SurprisalView {
  tokens: LensToken[];
  /** The document version the host read; edits since then only moved or dropped tokens. */
  version: number;
  /** The selection it was asked for, or undefined for the whole document. */
  scope: { start: number; end: number } | undefined;
  perplexity: number | null;
  bitsPerToken: number | null;
  model: string;
  windows: number;
  cachedWindows: number;
  /** Where the last update changed colours: the ranges whose windows the host ran again. */
  recoloured: vscode.Range[];
}

/** Ranges per colour step (weakest first) and of the outliers, as set on the editor. */
export interface RenderedLens {
  steps: vscode.Range[][];
  outliers: vscode.Range[];
}

interface DocumentState {
  view?: SurprisalView;
  scope: { start: number; end: number } | undefined;
  pending?: vscode.CancellationTokenSource;
  timer?: ReturnType<typeof setTimeout>;
}

/**
 * "Show Surprisal": colours each token by how unexpected the language model found it, with a
 * hover of its probability and the model's alternatives, the perplexity in the status bar, and
 * marks on the overview ruler for the tokens above the threshold. Edits re-run only the windows
 * they touch (debounced; a newer edit cancels the running request).
 */
export class SurprisalLens implements vscode.Disposable {
  private readonly documents = new Map<string, DocumentState>();
  /** The ranges last given to each step's decoration type, by document: what the user sees. */
  private readonly rendered = new Map<string, RenderedLens>();
  private stepTypes: vscode.TextEditorDecorationType[] = [];
  private outlierType: vscode.TextEditorDecorationType | undefined;
  private readonly status: vscode.StatusBarItem;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly changeEmitter = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changeEmitter.event;

  constructor(private readonly ctx: FeatureContext) {
    this.status = createStatusItem('surprisal', 'gpt2Heads.nextSurprisingToken');
    this.disposables.push(
      this.status,
      this.changeEmitter,
      vscode.workspace.onDidChangeTextDocument((event) => this.onEdit(event)),
      vscode.workspace.onDidCloseTextDocument((document) => this.clear(document.uri)),
      vscode.window.onDidChangeVisibleTextEditors(() => this.renderAll()),
      vscode.window.onDidChangeActiveTextEditor(() => this.renderStatus()),
      vscode.workspace.onDidChangeConfiguration((event) => {
        if (event.affectsConfiguration('gpt2Heads.surprisal')) {
          this.resetDecorationTypes();
          this.renderAll();
        }
      }),
      vscode.languages.registerHoverProvider(
        { pattern: '**' },
        { provideHover: (document, position) => this.hover(document, position) },
      ),
    );
  }

  view(uri: vscode.Uri): SurprisalView | undefined {
    return this.documents.get(uri.toString())?.view;
  }

  decorations(uri: vscode.Uri): RenderedLens | undefined {
    return this.rendered.get(uri.toString());
  }

  statusText(): string | undefined {
    return this.status.text || undefined;
  }

  /**
   * Shows the lens on the selection (when there is one) or the document, or hides it when it is
   * shown. Returns whether it is shown afterwards.
   */
  async toggle(): Promise<boolean> {
    const editor = targetEditor();
    if (!editor) {
      void vscode.window.showInformationMessage(
        vscode.l10n.t('GPT-2 Heads: open a document to see its surprisal.'),
      );
      return false;
    }
    const document = editor.document;
    if (this.documents.has(document.uri.toString())) {
      this.clear(document.uri);
      return false;
    }
    const selection = editor.selection;
    const scope = selection.isEmpty
      ? undefined
      : { start: document.offsetAt(selection.start), end: document.offsetAt(selection.end) };
    const length = scope ? scope.end - scope.start : document.getText().length;
    if (length > settings.maxDocumentChars()) {
      const answer = await vscode.window.showWarningMessage(
        vscode.l10n.t(
          'This text has {0} characters, more than "gpt2Heads.maxDocumentChars" ({1}). Reading it with the language model may take a while.',
          length.toLocaleString(),
          settings.maxDocumentChars().toLocaleString(),
        ),
        { modal: true },
        'Read Anyway',
      );
      if (answer !== 'Read Anyway') return false;
    }
    const state: DocumentState = { scope };
    this.documents.set(document.uri.toString(), state);
    let cancelledByUser = false;
    try {
      await withCancellableProgress(
        vscode.l10n.t(
          'GPT-2 Heads: reading the {0} with the language model…',
          scope ? 'selection' : 'document',
        ),
        (_progress, token) => {
          token.onCancellationRequested(() => (cancelledByUser = true));
          return this.run(document, token);
        },
      );
      return true;
    } catch (error) {
      // An edit while reading cancels this run and schedules the next: the lens stays on.
      const superseded = error instanceof vscode.CancellationError && !cancelledByUser;
      if (superseded && this.documents.get(document.uri.toString()) === state) return true;
      // Cancelled or failed: the lens is off again, as it was.
      if (this.documents.get(document.uri.toString()) === state) this.clear(document.uri);
      showError(error, this.ctx.log);
      return false;
    }
  }

  /** Moves the cursor to the next token at or above the threshold, wrapping round. */
  async goToNextSurprisingToken(): Promise<void> {
    const editor = targetEditor();
    const view = editor && this.view(editor.document.uri);
    if (!editor || !view) {
      const choice = await vscode.window.showInformationMessage(
        vscode.l10n.t('GPT-2 Heads: surprisal is not shown for this document yet.'),
        'Show Surprisal',
      );
      if (choice === 'Show Surprisal') await this.toggle();
      return;
    }
    const threshold = lensSettings.threshold();
    // Tokens of only spaces or line breaks have nothing to show: they are never visited.
    const tokens = view.tokens.map((t) => ({
      start: t.shownStart,
      bits: t.shownStart < t.shownEnd ? t.bits : null,
    }));
    const index = nextSurprising(
      tokens,
      editor.document.offsetAt(editor.selection.active) - 1,
      threshold,
    );
    if (index < 0) {
      const choice = await vscode.window.showInformationMessage(
        vscode.l10n.t(
          'GPT-2 Heads: no token reaches {0} bits of surprisal. Lower "gpt2Heads.surprisal.threshold" to see more.',
          threshold,
        ),
        'Open Settings',
      );
      if (choice === 'Open Settings') {
        await vscode.commands.executeCommand(
          'workbench.action.openSettings',
          'gpt2Heads.surprisal.threshold',
        );
      }
      return;
    }
    selectAndReveal(editor, shownRange(editor.document, view.tokens[index]));
  }

  clear(uri?: vscode.Uri): void {
    for (const [key, state] of [...this.documents]) {
      if (uri && key !== uri.toString()) continue;
      state.pending?.cancel();
      clearTimeout(state.timer);
      this.documents.delete(key);
    }
    this.renderAll();
    if (uri) this.changeEmitter.fire(uri);
  }

  dispose(): void {
    this.clear();
    this.resetDecorationTypes();
    for (const disposable of this.disposables) disposable.dispose();
  }

  private async run(
    document: vscode.TextDocument,
    outer?: vscode.CancellationToken,
  ): Promise<void> {
    const key = document.uri.toString();
    const state = this.documents.get(key);
    if (!state) return;
    state.pending?.cancel();
    const source = new vscode.CancellationTokenSource();
    state.pending = source;
    const cancelOuter = outer?.onCancellationRequested(() => source.cancel());
    const version = document.version;
    const scope = state.scope;
    const base = scope?.start ?? 0;
    this.renderStatus();
    try {
      // The whole document is named (the host has its text, synchronised); a selection is sent.
      const result = await this.ctx.host.request(
        methods.surprisal,
        scope
          ? { text: document.getText().slice(scope.start, scope.end), top_k: alternativesShown }
          : { textDocument: { uri: key, version }, top_k: alternativesShown },
        source.token,
      );
      if (
        document.version !== version ||
        source.token.isCancellationRequested ||
        this.documents.get(key) !== state
      ) {
        throw new vscode.CancellationError();
      }
      state.view = toView(document, result, base, version, scope);
      this.ctx.log.info(
        `Surprisal of ${document.uri.toString(true)}: ${result.offsets.length} tokens, ` +
          `perplexity ${result.perplexity?.toFixed(2) ?? '-'}, ${result.windows} windows ` +
          `(${result.cachedWindows} cached).`,
      );
      this.renderAll();
      this.changeEmitter.fire(document.uri);
    } finally {
      cancelOuter?.dispose();
      if (state.pending === source) state.pending = undefined;
      source.dispose();
      this.renderStatus();
    }
  }

  /** Keeps tokens on their text while the document changes, then reads it again (debounced). */
  private onEdit(event: vscode.TextDocumentChangeEvent): void {
    const state = this.documents.get(event.document.uri.toString());
    if (!state || event.contentChanges.length === 0) return;
    state.pending?.cancel();
    for (const change of [...event.contentChanges].sort((a, b) => b.rangeOffset - a.rangeOffset)) {
      const start = change.rangeOffset;
      const end = start + change.rangeLength;
      const delta = change.text.length - change.rangeLength;
      if (state.scope) {
        // An edit inside (or at the edge of) the selection grows or shrinks it with the text.
        if (state.scope.start > end) state.scope.start += delta;
        else if (state.scope.start > start) state.scope.start = start;
        if (state.scope.end >= end) state.scope.end += delta;
        else if (state.scope.end > start) state.scope.end = start + change.text.length;
      }
      if (state.view) state.view.tokens = shiftTokens(state.view.tokens, start, end, delta);
    }
    if (state.view) {
      for (const token of state.view.tokens) token.range = shownRange(event.document, token);
    }
    this.renderAll();
    if (state.timer) clearTimeout(state.timer);
    state.timer = setTimeout(() => {
      state.timer = undefined;
      if (event.document.isClosed) return;
      this.run(event.document).catch((error: unknown) => {
        if (!(error instanceof vscode.CancellationError)) {
          this.ctx.log.error(`Surprisal after an edit failed: ${(error as Error).message}`);
        }
      });
    }, lensSettings.debounceMs());
  }

  private hover(
    document: vscode.TextDocument,
    position: vscode.Position,
  ): vscode.Hover | undefined {
    const view = this.view(document.uri);
    if (!view) return undefined;
    const offset = document.offsetAt(position);
    const hits = view.tokens.filter(
      (t) => t.logprob !== null && t.shownStart <= offset && offset < t.shownEnd,
    );
    if (hits.length === 0) return undefined;
    const markdown = new vscode.MarkdownString();
    markdown.supportHtml = false;
    markdown.isTrusted = false;
    for (const token of hits) {
      const text = document.getText().slice(token.start, token.end);
      markdown.appendMarkdown(
        `**${escapeMarkdown(JSON.stringify(text))}** · p ${formatProbability(token.logprob!)} · ` +
          `${token.bits!.toFixed(2)} bits of surprisal  \n`,
      );
      markdown.appendMarkdown(`The model's top ${token.alternatives.length} here:  \n`);
      for (const [alternative, logprob] of token.alternatives) {
        markdown.appendMarkdown(
          `${escapeMarkdown(JSON.stringify(alternative))} · p ${formatProbability(logprob)}  \n`,
        );
      }
      markdown.appendMarkdown('\n');
    }
    markdown.appendMarkdown(`model: ${escapeMarkdown(view.model)}`);
    return new vscode.Hover(markdown, shownRange(document, hits[0]));
  }

  private decorationTypes(): {
    steps: vscode.TextEditorDecorationType[];
    outlier: vscode.TextEditorDecorationType;
  } {
    if (this.stepTypes.length === 0) {
      const count = lensSettings.steps().length;
      // Fewer steps than colours: spread them over the ramp, the last always the strongest.
      this.stepTypes = Array.from({ length: count }, (_, i) =>
        vscode.window.createTextEditorDecorationType({
          backgroundColor: new vscode.ThemeColor(
            stepColors[Math.round(((i + 1) * stepColors.length) / count) - 1],
          ),
          borderRadius: '2px',
          rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
        }),
      );
    }
    this.outlierType ??= vscode.window.createTextEditorDecorationType({
      borderStyle: 'solid',
      borderWidth: '0 0 2px 0',
      borderColor: new vscode.ThemeColor(outlierColor),
      overviewRulerColor: new vscode.ThemeColor(outlierColor),
      overviewRulerLane: vscode.OverviewRulerLane.Center,
      rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
    });
    return { steps: this.stepTypes, outlier: this.outlierType };
  }

  private resetDecorationTypes(): void {
    for (const type of this.stepTypes) type.dispose();
    this.outlierType?.dispose();
    this.stepTypes = [];
    this.outlierType = undefined;
  }

  private renderAll(): void {
    // Nothing shown and nothing to clear: no decoration types until the lens is first used.
    if (this.documents.size === 0 && this.rendered.size === 0) return this.renderStatus();
    const thresholds = lensSettings.steps();
    const threshold = lensSettings.threshold();
    const { steps, outlier } = this.decorationTypes();
    this.rendered.clear();
    for (const editor of vscode.window.visibleTextEditors) {
      const view = this.view(editor.document.uri);
      const byStep: vscode.Range[][] = steps.map(() => []);
      const outliers: vscode.Range[] = [];
      for (const token of view?.tokens ?? []) {
        if (token.bits === null || token.shownStart === token.shownEnd) continue;
        const step = surprisalStep(token.bits, thresholds);
        if (step > 0) byStep[step - 1].push(token.range);
        if (token.bits >= threshold) outliers.push(token.range);
      }
      steps.forEach((type, i) => editor.setDecorations(type, byStep[i]));
      editor.setDecorations(outlier, outliers);
      if (view) this.rendered.set(editor.document.uri.toString(), { steps: byStep, outliers });
    }
    this.renderStatus();
  }

  private renderStatus(): void {
    const editor = vscode.window.activeTextEditor;
    const state = editor && this.documents.get(editor.document.uri.toString());
    if (!state) {
      this.status.hide();
      this.status.text = '';
      return;
    }
    const view = state.view;
    const where = state.scope ? 'selection' : 'document';
    if (!view) {
      this.status.text = '$(loading~spin) PPL';
      this.status.tooltip = vscode.l10n.t('GPT-2 Heads: reading the {0}…', where);
    } else if (view.perplexity === null) {
      this.status.text = '$(pulse) PPL –';
      this.status.tooltip = vscode.l10n.t(
        'GPT-2 Heads: the {0} has fewer than two tokens: nothing to score.',
        where,
      );
    } else {
      const busy = state.pending || state.timer ? '$(loading~spin)' : '$(pulse)';
      this.status.text = `${busy} PPL ${formatPerplexity(view.perplexity)} · ${view.bitsPerToken!.toFixed(2)} bits/token`;
      this.status.tooltip = new vscode.MarkdownString(
        vscode.l10n.t(
          'Perplexity of the {0} under {1}: {2}, {3} bits per token on average over {4} tokens ({5} windows, {6} from the cache).\n\nClick to go to the next token above {7} bits.',
          where,
          escapeMarkdown(view.model),
          formatPerplexity(view.perplexity),
          view.bitsPerToken!.toFixed(2),
          view.tokens.filter((t) => t.logprob !== null).length,
          view.windows,
          view.cachedWindows,
          lensSettings.threshold(),
        ),
      );
    }
    this.status.accessibilityInformation = {
      label: this.status.text.replace(/\$\([^)]*\)\s*/g, ''),
    };
    this.status.show();
  }
}

function toView(
  document: vscode.TextDocument,
  result: SurprisalResult,
  base: number,
  version: number,
  scope: DocumentState['scope'],
): SurprisalView {
  const text = document.getText();
  const tokens = result.offsets.map(([start, end], i): LensToken => {
    const logprob = result.logprobs[i];
    const token = {
      start: base + start,
      end: base + end,
      ...trimmed(text, base + start, base + end),
      logprob,
      bits: logprob === null ? null : surprisalBits(logprob),
      alternatives: result.alternatives[i],
    };
    return { ...token, range: shownRange(document, token) };
  });
  const summary = summarize(result.logprobs);
  return {
    tokens,
    version,
    scope: scope ? { ...scope } : undefined,
    perplexity: summary.perplexity,
    bitsPerToken: summary.bits_per_token,
    model: result.model,
    windows: result.windows,
    cachedWindows: result.cachedWindows,
    recoloured: result.recomputed.map(
      ([start, end]) =>
        new vscode.Range(document.positionAt(base + start), document.positionAt(base + end)),
    ),
  };
}

/** A token's offsets without the whitespace at its ends (' world' is shown on 'world'). */
function trimmed(
  text: string,
  start: number,
  end: number,
): { shownStart: number; shownEnd: number } {
  let shownStart = start;
  let shownEnd = end;
  while (shownStart < shownEnd && /\s/.test(text[shownStart])) shownStart++;
  while (shownEnd > shownStart && /\s/.test(text[shownEnd - 1])) shownEnd--;
  return { shownStart, shownEnd };
}

function shownRange(
  document: vscode.TextDocument,
  token: { shownStart: number; shownEnd: number },
): vscode.Range {
  return new vscode.Range(
    document.positionAt(token.shownStart),
    document.positionAt(token.shownEnd),
  );
}

/** Tokens after a change move by its length difference; tokens that overlap it are dropped. */
function shiftTokens(tokens: LensToken[], start: number, end: number, delta: number): LensToken[] {
  return tokens.flatMap((token) => {
    if (token.end <= start) return [token];
    if (token.start < end) return [];
    return [
      {
        ...token,
        start: token.start + delta,
        end: token.end + delta,
        shownStart: token.shownStart + delta,
        shownEnd: token.shownEnd + delta,
      },
    ];
  });
}

function formatProbability(logprob: number): string {
  const p = Math.exp(logprob);
  return p >= 0.001 ? p.toFixed(3) : p.toExponential(1);
}

function formatPerplexity(perplexity: number): string {
  return perplexity < 1000 ? perplexity.toFixed(1) : Math.round(perplexity).toLocaleString('en-US');
}
