import * as vscode from 'vscode';
import { targetEditor } from './editors';
import { methods, type ClassifyParams, type ClassifyResult } from '../protocol';
import type { FeatureContext } from './context';
import { escapeMarkdown } from '../text/markdown';
import { modelDisplayName } from '../text/modelName';
import { isNotConfigured, showError } from './errors';
import { modelSource, servesLanguage, settings } from './settings';

type Scope = ClassifyParams['scope'];

interface ItemState {
  item: vscode.StatusBarItem;
  result?: ClassifyResult;
  pending?: vscode.CancellationTokenSource;
  timer?: ReturnType<typeof setTimeout>;
}

/** The selection, or the paragraph under the cursor when nothing is selected. */
export function passageAt(editor: vscode.TextEditor): string {
  const { document, selection } = editor;
  if (!selection.isEmpty) return document.getText(selection);
  let first = selection.active.line;
  let last = first;
  while (first > 0 && !document.lineAt(first - 1).isEmptyOrWhitespace) first--;
  while (last < document.lineCount - 1 && !document.lineAt(last + 1).isEmptyOrWhitespace) last++;
  return document.getText(new vscode.Range(first, 0, last, document.lineAt(last).text.length));
}

export function scoreBar(score: number, width = 20): string {
  const filled = Math.round(Math.max(0, Math.min(1, score)) * width);
  return '█'.repeat(filled) + '░'.repeat(width - filled);
}

/**
 * Two status bar items, "sequence" (the selection or paragraph) and "document" (the whole
 * document in windows), each with the top label and score, a spinner while the host works, all
 * labels in the tooltip, and details on click. Without a fine-tuned head, zero-shot with the LM.
 */
export class Classifier implements vscode.Disposable {
  private readonly items: Record<Scope, ItemState>;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly ctx: FeatureContext) {
    const make = (scope: Scope, priority: number): ItemState => {
      const item = vscode.window.createStatusBarItem(
        `gpt2Heads.${scope}`,
        vscode.StatusBarAlignment.Right,
        priority,
      );
      item.name =
        scope === 'sequence' ? 'GPT-2 Heads: Selection Label' : 'GPT-2 Heads: Document Label';
      item.command = {
        command: 'gpt2Heads.showClassificationDetails',
        title: vscode.l10n.t('Details'),
        arguments: [scope],
      };
      return { item };
    };
    this.items = { sequence: make('sequence', 99), document: make('document', 98) };
    this.disposables.push(
      this.items.sequence.item,
      this.items.document.item,
      vscode.window.onDidChangeTextEditorSelection((event) => {
        if (event.textEditor === vscode.window.activeTextEditor) this.schedule('sequence');
      }),
      vscode.window.onDidChangeActiveTextEditor(() => {
        this.schedule('sequence');
        this.schedule('document');
      }),
      vscode.workspace.onDidChangeTextDocument((event) => {
        if (
          event.document === vscode.window.activeTextEditor?.document &&
          event.contentChanges.length
        ) {
          this.schedule('document');
        }
      }),
      vscode.workspace.onDidChangeConfiguration((event) => {
        if (event.affectsConfiguration('gpt2Heads')) {
          this.schedule('sequence');
          this.schedule('document');
        }
      }),
    );
    this.schedule('sequence');
    this.schedule('document');
  }

  result(scope: Scope): ClassifyResult | undefined {
    return this.items[scope].result;
  }

  statusText(scope: Scope): string | undefined {
    const item = this.items[scope].item;
    return item.text || undefined;
  }

  /** From a command: classifies now, with a progress notification and errors shown. */
  async command(scope: Scope): Promise<ClassifyResult | undefined> {
    const editor = targetEditor();
    if (!editor) {
      void vscode.window.showInformationMessage(
        vscode.l10n.t('GPT-2 Heads: open a document to classify.'),
      );
      return undefined;
    }
    if (!this.available()) {
      const choice = await vscode.window.showInformationMessage(
        vscode.l10n.t(
          'GPT-2 Heads: no classification model is set. Set "gpt2Heads.classification.model", or pick labels for zero-shot classification with the language model.',
        ),
        'Pick Labels…',
        'Open Settings',
      );
      if (choice === 'Pick Labels…') await pickLabels();
      else if (choice === 'Open Settings') {
        await vscode.commands.executeCommand(
          'workbench.action.openSettings',
          'gpt2Heads.classification.model',
        );
      }
      return undefined;
    }
    try {
      return await vscode.window.withProgress(
        {
          location: vscode.ProgressLocation.Notification,
          title: vscode.l10n.t(
            'GPT-2 Heads: classifying the {0}…',
            scope === 'sequence' ? 'selection' : 'document',
          ),
          cancellable: true,
        },
        (_progress, token) => this.classify(scope, editor, token),
      );
    } catch (error) {
      showError(error, this.ctx.log);
      return undefined;
    }
  }

  async showDetails(scope: Scope): Promise<void> {
    const result = this.items[scope].result;
    if (!result) {
      await this.command(scope);
      return;
    }
    const pick = vscode.window.createQuickPick();
    pick.title = vscode.l10n.t(
      'GPT-2 Heads: {0} — {1}',
      scope === 'sequence' ? 'selection' : 'document',
      describe(result),
    );
    pick.items = result.labels.map(({ label, score }) => ({
      label,
      description: `${scoreBar(score)} ${score.toFixed(3)}`,
    }));
    pick.placeholder = vscode.l10n.t('Every label with its probability');
    pick.onDidHide(() => pick.dispose());
    pick.onDidAccept(() => pick.hide());
    pick.show();
  }

  dispose(): void {
    for (const state of Object.values(this.items)) {
      state.pending?.cancel();
      if (state.timer) clearTimeout(state.timer);
    }
    for (const disposable of this.disposables) disposable.dispose();
  }

  private available(): boolean {
    return Boolean(modelSource('classification')) || settings.zeroShotLabels().length > 0;
  }

  private enabled(scope: Scope): boolean {
    return scope === 'sequence'
      ? settings.sequenceClassification()
      : settings.documentClassification();
  }

  private schedule(scope: Scope): void {
    const state = this.items[scope];
    state.pending?.cancel();
    if (state.timer) clearTimeout(state.timer);
    const editor = vscode.window.activeTextEditor;
    if (!editor || !servesLanguage(editor.document) || !this.enabled(scope) || !this.available()) {
      state.item.hide();
      return;
    }
    if (editor.document.getText().length > settings.maxDocumentChars()) {
      state.item.hide();
      return;
    }
    state.timer = setTimeout(() => {
      state.timer = undefined;
      this.classify(scope, editor).catch((error) => {
        if (error instanceof vscode.CancellationError) return;
        if (!isNotConfigured(error))
          this.ctx.log.warn(`Classification failed: ${(error as Error).message}`);
        state.item.text = '$(warning) label';
        state.item.tooltip = `GPT-2 Heads could not classify: ${(error as Error).message}`;
      });
    }, settings.classificationDebounceMs());
  }

  private async classify(
    scope: Scope,
    editor: vscode.TextEditor,
    outer?: vscode.CancellationToken,
  ): Promise<ClassifyResult> {
    const state = this.items[scope];
    // A newer automatic run replaces an older one; a command's run is only cancelled by its user.
    state.pending?.cancel();
    const source = new vscode.CancellationTokenSource();
    if (!outer) state.pending = source;
    const link = outer?.onCancellationRequested(() => source.cancel());
    const text = scope === 'sequence' ? passageAt(editor) : editor.document.getText();
    const labels = settings.zeroShotLabels();
    const zeroShot = !modelSource('classification') && labels.length > 0;
    state.item.text = '$(loading~spin) Classifying…';
    state.item.tooltip = undefined;
    state.item.show();
    try {
      const result = await this.ctx.host.request(
        methods.classify,
        {
          text,
          scope,
          function_to_apply: settings.functionToApply(),
          aggregation: settings.classificationAggregation(),
          zeroShot: zeroShot ? { labels, template: settings.zeroShotTemplate() } : undefined,
        },
        source.token,
      );
      if (source.token.isCancellationRequested) throw new vscode.CancellationError();
      state.result = result;
      this.render(scope, result);
      return result;
    } finally {
      link?.dispose();
      if (state.pending === source) state.pending = undefined;
      source.dispose();
    }
  }

  private render(scope: Scope, result: ClassifyResult): void {
    const item = this.items[scope].item;
    const top = result.labels[0];
    item.text = `$(tag) ${top.label} ${top.score.toFixed(2)}${result.zeroShot ? ' (zero-shot)' : ''}`;
    const tooltip = new vscode.MarkdownString();
    tooltip.isTrusted = false;
    tooltip.appendMarkdown(
      `**${scope === 'sequence' ? 'Selection' : 'Document'}** — ${escapeMarkdown(describe(result))}\n\n`,
    );
    for (const { label, score } of result.labels) {
      tooltip.appendMarkdown(
        `\`${scoreBar(score, 12)}\` ${score.toFixed(3)} ${escapeMarkdown(label)}  \n`,
      );
    }
    item.tooltip = tooltip;
    item.accessibilityInformation = {
      label: `${scope} label ${top.label}, score ${top.score.toFixed(2)}`,
    };
    item.show();
  }
}

function describe(result: ClassifyResult): string {
  const how = result.zeroShot
    ? 'zero-shot with the language model'
    : modelDisplayName(result.model);
  const windows = `${result.windows} window${result.windows === 1 ? '' : 's'} read, ${result.tokens} tokens`;
  return `${how}, ${windows}`;
}

/** "Pick Classification Labels…": the zero-shot labels, comma-separated, saved in settings. */
export async function pickLabels(): Promise<string[] | undefined> {
  const current = settings.zeroShotLabels();
  const value = await vscode.window.showInputBox({
    title: vscode.l10n.t('GPT-2 Heads: zero-shot labels'),
    prompt: vscode.l10n.t(
      'Labels separated by commas; the language model scores each one after the text.',
    ),
    value: current.join(', '),
    placeHolder: vscode.l10n.t('sports, politics, science'),
    validateInput: (input) =>
      input.split(',').filter((label) => label.trim()).length >= 2
        ? undefined
        : 'Give at least two labels.',
  });
  if (value === undefined) return undefined;
  const labels = value
    .split(',')
    .map((label) => label.trim())
    .filter(Boolean);
  await vscode.workspace
    .getConfiguration('gpt2Heads')
    .update('zeroShot.labels', labels, vscode.ConfigurationTarget.Global);
  return labels;
}
