import * as vscode from 'vscode';
import { methods } from '../protocol';
import type { FeatureContext } from './context';
import { isNotConfigured } from './errors';
import { generationOptions, settings, toggle } from './settings';
import { waitingFor } from './firstUse';
import { SuggestionCache } from '../text/suggestions';

/** Characters of text before the cursor sent as the prompt; the host trims it to the model window. */
const maxPromptChars = 8000;

/** The time to wait after a keystroke: fixed by setting, else adapted to the typing rhythm. */
class TypingRhythm {
  private last = 0;
  private intervals: number[] = [];

  keystroke(): void {
    const now = Date.now();
    if (this.last && now - this.last < 2000) {
      this.intervals = [...this.intervals.slice(-15), now - this.last];
    }
    this.last = now;
  }

  debounceMs(): number {
    const fixed = settings.inlineDebounceMs();
    if (fixed > 0) return fixed;
    if (this.intervals.length < 3) return 150;
    const sorted = [...this.intervals].sort((a, b) => a - b);
    // Wait a little longer than the usual gap between keys, so mid-word pauses don't trigger.
    return Math.min(600, Math.max(75, Math.round(sorted[Math.floor(sorted.length / 2)] * 1.5)));
  }
}

function stopStrings(): string[] {
  switch (settings.inlineStopAt()) {
    case 'line':
      return ['\n'];
    case 'sentence':
      return ['.', '!', '?', '\n'];
    default:
      return [];
  }
}

/** The suggestion text: up to the stop string; a line ending is not part of it. */
function trimSuggestion(text: string): string {
  const stopAt = settings.inlineStopAt();
  if (stopAt === 'none') return text;
  const newline = text.indexOf('\n');
  return newline >= 0 ? text.slice(0, newline) : text;
}

const sleep = (ms: number, token: vscode.CancellationToken) =>
  new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => {
      listener.dispose();
      resolve(true);
    }, ms);
    const listener = token.onCancellationRequested(() => {
      clearTimeout(timer);
      listener.dispose();
      resolve(false);
    });
  });

/**
 * Inline suggestions from the language model: debounced (adaptively), cancelled the moment the
 * user types again (the host stops generating), answered from recent suggestions when the user
 * types along one, and continued by the host from the KV cache of the previous request's prefix.
 */
export class InlineSuggestions implements vscode.InlineCompletionItemProvider, vscode.Disposable {
  private readonly cache = new SuggestionCache();
  private readonly rhythm = new TypingRhythm();
  private readonly disposables: vscode.Disposable[] = [];
  private registration: vscode.Disposable | undefined;
  /** Requests to the host, for tests and the status of the last suggestion. */
  lastRequest: { prefix: string; suggestion: string; cached: boolean } | undefined;

  constructor(private readonly ctx: FeatureContext) {
    this.register();
    this.disposables.push(
      vscode.workspace.onDidChangeTextDocument((event) => {
        if (event.document === vscode.window.activeTextEditor?.document) this.rhythm.keystroke();
      }),
      vscode.workspace.onDidChangeConfiguration((event) => {
        if (event.affectsConfiguration('gpt2Heads.languages')) this.register();
      }),
    );
  }

  private register(): void {
    this.registration?.dispose();
    const selector = settings.languages().map((language) => ({ language }));
    this.registration = vscode.languages.registerInlineCompletionItemProvider(selector, this);
  }

  async provideInlineCompletionItems(
    document: vscode.TextDocument,
    position: vscode.Position,
    context: vscode.InlineCompletionContext,
    token: vscode.CancellationToken,
  ): Promise<vscode.InlineCompletionItem[] | undefined> {
    if (!settings.inlineEnabled() || waitingFor('lm')) return undefined;
    const start = document.positionAt(Math.max(0, document.offsetAt(position) - maxPromptChars));
    const prefix = document.getText(new vscode.Range(start, position));
    if (prefix.trim() === '') return undefined;
    const range = new vscode.Range(position, position);
    const cached = this.cache.lookup(prefix);
    if (cached) {
      this.lastRequest = { prefix, suggestion: cached, cached: true };
      return [new vscode.InlineCompletionItem(cached, range)];
    }
    const automatic = context.triggerKind === vscode.InlineCompletionTriggerKind.Automatic;
    if (automatic && !(await sleep(this.rhythm.debounceMs(), token))) return undefined;
    try {
      const result = await this.ctx.host.request(
        methods.generate,
        {
          prompt: prefix,
          options: generationOptions({
            max_new_tokens: settings.inlineMaxNewTokens(),
            stop_strings: stopStrings(),
          }),
          reuseCache: true,
        },
        token,
      );
      if (token.isCancellationRequested) return undefined;
      const suggestion = trimSuggestion(result.new_text);
      this.cache.add(prefix, suggestion);
      this.lastRequest = { prefix, suggestion, cached: false };
      return suggestion ? [new vscode.InlineCompletionItem(suggestion, range)] : undefined;
    } catch (error) {
      if (!(error instanceof vscode.CancellationError) && !isNotConfigured(error)) {
        this.ctx.log.warn(`Inline suggestion failed: ${(error as Error).message}`);
      }
      return undefined;
    }
  }

  dispose(): void {
    this.registration?.dispose();
    for (const disposable of this.disposables) disposable.dispose();
  }
}

/** "Toggle Inline Suggestions": pauses or resumes them (the setting, for this user). */
export function toggleInlineSuggestions(): Promise<boolean> {
  return toggle('inlineEnabled', (on) =>
    vscode.l10n.t('GPT-2 Heads: inline suggestions {0}', on ? 'on' : 'paused'),
  );
}
