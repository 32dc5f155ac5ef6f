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

/** One item showing the model host's state; clicking it shows the loaded models. */
export function registerHostStatusBar(host: HostClient): vscode.Disposable[] {
  const item = vscode.window.createStatusBarItem(
    'gpt2Heads.host',
    vscode.StatusBarAlignment.Right,
    100,
  );
  item.name = vscode.l10n.t('GPT-2 Heads: Model Host');
  item.command = 'gpt2Heads.showModelStatus';
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
