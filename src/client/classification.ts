import * as vscode from 'vscode';
import { targetEditor } from './editors';
import { headFor, methods, taskTable, type ClassifyParams, type ClassifyResult } from '../protocol';
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
import { modelSource, servesLanguage, settings, write } from './settings';
import { waitingFor } from './firstUse';
import { withLabelNames } from './labelNames';
import { createStatusItem } from './statusBar';

/** How each item names what it classifies, with its own icon so the two never look alike. */
const scopes = {
  sequence: { name: 'Selection', icon: '$(tag)', noun: 'selection' },
  document: { name: 'Document', icon: '$(file-text)', noun: 'document' },
} as const;

/** Whether classification runs zero-shot with the LM (no classifier set, the one fallback rule). */
function usesLanguageModel(): boolean {
  return headFor('classification', (role) => Boolean(modelSource(role))) === 'lm';
}

type Scope = ClassifyParams['scope'];

interface ItemState {
  item: vscode.StatusBarItem;
  result?: ClassifyResult;
  /** Automatic runs: a newer one replaces an older one. */
  latest: LatestRequest;
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
    const make = (scope: Scope): ItemState => {
      const item = createStatusItem(scope, {
        command: 'gpt2Heads.showClassificationDetails',
        title: vscode.l10n.t('Details'),
        arguments: [scope],
      });
      return { item, latest: new LatestRequest() };
    };
    this.items = { sequence: make('sequence'), document: make('document') };
    this.disposables.push(
      this.items.sequence.item,
      this.items.document.item,
      vscode.window.onDidChangeTextEditorSelection((event) => {
        if (event.textEditor === targetEditor()) this.schedule('sequence');
      }),
      vscode.window.onDidChangeActiveTextEditor(() => {
        this.schedule('sequence');
        this.schedule('document');
      }),
      // Focus on a walkthrough or panel: the labels follow the only editor still visible.
      vscode.window.onDidChangeVisibleTextEditors(() => {
        if (vscode.window.activeTextEditor) return;
        this.schedule('sequence');
        this.schedule('document');
      }),
      vscode.workspace.onDidChangeTextDocument((event) => {
        if (event.document === targetEditor()?.document && event.contentChanges.length) {
          this.schedule('document');
        }
      }),
      vscode.workspace.onDidChangeConfiguration((event) => {
        if (event.affectsConfiguration('gpt2Heads')) {
          this.schedule('sequence');
          this.schedule('document');
        }
      }),
      // A host that went away ends its requests: no item keeps spinning for it.
      ctx.host.onDidStop(() => {
        for (const scope of ['sequence', 'document'] as const) this.settle(scope);
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
    const length = (scope === 'sequence' ? passageAt(editor) : editor.document.getText()).length;
    if (!(await confirmLargeText(length, 'Classify', editor.document.uri))) return undefined;
    try {
      return await withCancellableProgress(
        vscode.l10n.t('GPT-2 Heads: classifying the {0}…', scopes[scope].noun),
        (progress, token) => {
          this.items[scope].latest.cancel();
          return this.classify(scope, editor, token, progress);
        },
      );
    } catch (error) {
      this.settle(scope);
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
    pick.title = vscode.l10n.t('GPT-2 Heads: {0} — {1}', scopes[scope].name, describe(result));
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
    for (const state of Object.values(this.items)) state.latest.dispose();
    for (const disposable of this.disposables) disposable.dispose();
  }

  private available(): boolean {
    return !usesLanguageModel() || settings.zeroShotLabels().length > 0;
  }

  /** Ends a spinner: the last result again, or nothing. */
  private settle(scope: Scope): void {
    const state = this.items[scope];
    if (!state.item.text.startsWith('$(loading~spin)')) return;
    if (state.result) this.render(scope, state.result);
    else state.item.hide();
  }

  private enabled(scope: Scope): boolean {
    return scope === 'sequence'
      ? settings.sequenceClassification()
      : settings.documentClassification();
  }

  private schedule(scope: Scope): void {
    const state = this.items[scope];
    state.latest.cancel();
    // The editor the labels are for: the active one, or the only one visible while focus is on a
    // walkthrough, a panel or the Explorer.
    const editor = targetEditor();
    if (!editor || !servesLanguage(editor.document) || !this.enabled(scope) || !this.available()) {
      state.item.hide();
      return;
    }
    if (editor.document.getText().length > settings.maxDocumentChars()) {
      state.item.hide();
      return;
    }
    const waiting = waitingFor(usesLanguageModel() ? 'lm' : 'classification');
    if (waiting) {
      // Not downloaded unasked: the item says what waits and why.
      state.item.text = `$(cloud-download) ${scopes[scope].name}: waiting`;
      state.item.tooltip = `GPT-2 Heads: ${waiting}`;
      state.item.show();
      return;
    }
    state.latest.schedule(settings.classificationDebounceMs(), (token) =>
      this.classify(scope, editor, token).then(
        () => undefined,
        (error) => {
          if (error instanceof vscode.CancellationError) return this.settle(scope);
          if (!isNotConfigured(error)) logFailure(error, this.ctx.log, 'Classification failed');
          state.item.text = `$(warning) ${scopes[scope].name}`;
          state.item.tooltip = `GPT-2 Heads could not classify the ${scopes[scope].noun}: ${(error as Error).message}`;
        },
      ),
    );
  }

  /** A command's run cancels the automatic one; only its user cancels it (`token`). */
  private async classify(
    scope: Scope,
    editor: vscode.TextEditor,
    token: vscode.CancellationToken,
    progress?: vscode.Progress<{ message?: string; increment?: number }>,
  ): Promise<ClassifyResult> {
    const state = this.items[scope];
    const { document } = editor;
    const resource = document.uri;
    const labels = settings.zeroShotLabels(resource);
    const zeroShot = usesLanguageModel() && labels.length > 0;
    state.item.text = `$(loading~spin) Classifying the ${scopes[scope].noun}…`;
    state.item.tooltip = undefined;
    state.item.show();
    // A passage travels with the request; the whole document is named (the host has its text).
    const params: ClassifyParams = {
      ...(scope === 'sequence'
        ? { text: passageAt(editor) }
        : { textDocument: { uri: resource.toString(), version: document.version } }),
      scope,
      function_to_apply: settings.functionToApply(resource),
      aggregation: settings.classificationAggregation(resource),
      zeroShot: zeroShot ? { labels, template: settings.zeroShotTemplate(resource) } : undefined,
    };
    const result = await this.ctx.host.requestWithProgress(
      methods.classify,
      params,
      progress && windowReporter(progress),
      token,
    );
    if (token.isCancellationRequested) throw new vscode.CancellationError();
    const named = withLabelNames(result);
    state.result = named;
    this.render(scope, named);
    return named;
  }

  private render(scope: Scope, result: ClassifyResult): void {
    const item = this.items[scope].item;
    const top = result.labels[0];
    item.text = `${scopes[scope].icon} ${top.label} ${top.score.toFixed(2)}${result.zeroShot ? ' (zero-shot)' : ''}`;
    const tooltip = new vscode.MarkdownString();
    tooltip.isTrusted = false;
    tooltip.appendMarkdown(`**${scopes[scope].name}** — ${escapeMarkdown(describe(result))}\n\n`);
    for (const { label, score } of result.labels) {
      tooltip.appendMarkdown(
        `\`${scoreBar(score, 12)}\` ${score.toFixed(3)} ${escapeMarkdown(label)}  \n`,
      );
    }
    item.tooltip = tooltip;
    item.accessibilityInformation = {
      label: `${scopes[scope].name} label ${top.label}, score ${top.score.toFixed(2)}`,
    };
    item.show();
  }
}

function describe(result: ClassifyResult): string {
  const how = result.zeroShot
    ? 'zero-shot with the language model'
    : modelDisplayName(result.model);
  const windows = `${countOf(result.windows, 'window')} read, ${countOf(result.tokens, 'token')}`;
  return `${how}, ${windows}`;
}

/**
 * "Pick Classification Labels…": the zero-shot labels, comma-separated, saved in settings.
 * While a classifier model is set the labels have no effect: it says so and offers to switch.
 */
export async function pickLabels(): Promise<string[] | undefined> {
  const current = settings.zeroShotLabels();
  const classifier = modelSource('classification');
  const value = await vscode.window.showInputBox({
    title: vscode.l10n.t('GPT-2 Heads: zero-shot labels'),
    prompt: classifier
      ? vscode.l10n.t(
          'Labels separated by commas. They are used only while "{0}" is empty; it is set to {1}.',
          taskTable.classification.setting,
          classifier,
        )
      : vscode.l10n.t(
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
  await write.zeroShotLabels(labels);
  if (classifier) {
    const useThem = vscode.l10n.t('Use Zero-Shot Labels');
    const choice = await vscode.window.showInformationMessage(
      vscode.l10n.t(
        'GPT-2 Heads: labels saved, but they have no effect while "{0}" is set ({1}). Clear it to classify zero-shot with the language model.',
        taskTable.classification.setting,
        classifier,
      ),
      useThem,
      'Keep the Classifier',
    );
    if (choice === useThem) await write.model('classification', '');
  }
  return labels;
}
