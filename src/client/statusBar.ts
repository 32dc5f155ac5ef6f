import * as vscode from 'vscode';
import type { HostClient, HostState } from './hostClient';

const presentation: Record<HostState, { text: string; tooltip: string }> = {
  stopped: {
    text: '$(circle-outline) GPT-2',
    tooltip: vscode.l10n.t('GPT-2 Heads: the model host starts on first use.'),
  },
  starting: {
    text: '$(loading~spin) GPT-2',
    tooltip: vscode.l10n.t('GPT-2 Heads: starting the model host…'),
  },
  ready: {
    text: '$(check) GPT-2',
    tooltip: vscode.l10n.t('GPT-2 Heads: the model host is ready.'),
  },
  busy: {
    text: '$(loading~spin) GPT-2',
    tooltip: vscode.l10n.t('GPT-2 Heads: the model host is working…'),
  },
  error: {
    text: '$(error) GPT-2',
    tooltip: vscode.l10n.t('GPT-2 Heads: the model host is not running.'),
  },
};

/**
 * The extension's status bar items, all on the right: the name the status bar's menu lists, and
 * the place (a higher priority is further left).
 */
const statusItems = {
  host: { priority: 100, name: () => vscode.l10n.t('GPT-2 Heads: Model Host') },
  endpoints: { priority: 99, name: () => vscode.l10n.t('GPT-2 Heads: Serving Endpoints') },
  sequence: { priority: 99, name: () => 'GPT-2 Heads: Selection Label' },
  document: { priority: 98, name: () => 'GPT-2 Heads: Document Label' },
  surprisal: { priority: 97, name: () => vscode.l10n.t('GPT-2 Heads: Perplexity') },
};

/** Makes one of the extension's status bar items; `command` is what a click on it runs. */
export function createStatusItem(
  key: keyof typeof statusItems,
  command: string | vscode.Command,
): vscode.StatusBarItem {
  const { priority, name } = statusItems[key];
  const item = vscode.window.createStatusBarItem(
    `gpt2Heads.${key}`,
    vscode.StatusBarAlignment.Right,
    priority,
  );
  item.name = name();
  item.command = command;
  return item;
}

/** One item showing the model host's state; clicking it shows the loaded models. */
export function registerHostStatusBar(host: HostClient): vscode.Disposable[] {
  const item = createStatusItem('host', 'gpt2Heads.showModelStatus');
  const render = (state: HostState) => {
    const { text, tooltip } = presentation[state];
    const status = host.status;
    const failing = state !== 'error' && status?.health === 'error';
    item.text = failing ? '$(warning) GPT-2' : text;
    item.tooltip =
      state === 'error' && host.errorMessage
        ? host.errorMessage
        : failing
          ? vscode.l10n.t(
              'GPT-2 Heads: {0} Click for the model status.',
              status?.message ?? 'a model failed to load.',
            )
          : host.lastRestart && state === 'ready'
            ? vscode.l10n.t(
                'GPT-2 Heads: the model host stopped unexpectedly at {0} and was restarted; it is ready again.',
                host.lastRestart.toLocaleTimeString(),
              )
            : tooltip;
    item.backgroundColor =
      state === 'error'
        ? new vscode.ThemeColor('statusBarItem.errorBackground')
        : failing
          ? new vscode.ThemeColor('statusBarItem.warningBackground')
          : undefined;
    item.accessibilityInformation = { label: item.tooltip };
  };
  render(host.state);
  item.show();
  return [item, host.onDidChangeState(render)];
}
