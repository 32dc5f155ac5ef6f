// A status bar item, shown while a serving endpoint is configured: whether the engines that run
// the loaded models answer their health checks (Open Inference: GET {server}/v2/health/ready;
// OpenAI-compatible: GET {url}/models), from the host's status. It never starts the host.
import * as vscode from 'vscode';
import { methods, type ModelInfo } from '../protocol';
import { endpointSettings } from './endpoints';
import type { FeatureContext } from './context';
import { createStatusItem } from './statusBar';

/** Health checks at most this often while requests come and go. */
const refreshMs = 10_000;

export function registerEndpointStatusBar(ctx: FeatureContext): vscode.Disposable[] {
  const item = createStatusItem('endpoints', 'gpt2Heads.showModelStatus');
  let last = 0;
  let pending: Promise<void> | undefined;

  const render = (models: ModelInfo[] | undefined) => {
    const configured = endpointSettings();
    if (!configured) {
      item.hide();
      return;
    }
    const remote = (models ?? []).filter((model) => model.endpoint);
    const down = remote.filter((model) => !model.endpointReady);
    item.text =
      remote.length === 0
        ? '$(cloud) GPT-2'
        : down.length > 0
          ? '$(warning) GPT-2 endpoint'
          : '$(cloud) GPT-2 ready';
    const lines = remote.map(
      (model) =>
        `${model.endpoint}: ${model.endpointReady ? 'ready' : 'not ready'} (${model.roles.join(', ')})`,
    );
    item.tooltip =
      remote.length === 0
        ? vscode.l10n.t(
            'GPT-2 Heads: serving endpoints are set ({0}); they are checked once a model uses them.',
            Object.keys(configured.urls).join(', '),
          )
        : lines.join('\n');
    item.backgroundColor =
      down.length > 0 ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    item.accessibilityInformation = { label: String(item.tooltip) };
    item.show();
  };

  /** Asks the running host for its models' health; `force` skips the throttle. */
  const refresh = (force = false) => {
    if (!endpointSettings()) return render(undefined);
    const running = ctx.host.state === 'ready' || ctx.host.state === 'busy';
    if (!running || pending || (!force && Date.now() - last < refreshMs)) {
      if (!running) render(undefined);
      return;
    }
    last = Date.now();
    pending = ctx.host
      .request(methods.status)
      .then(
        (status) => render(status.models),
        () => render(undefined),
      )
      .finally(() => (pending = undefined));
  };

  refresh(true);
  return [
    item,
    ctx.host.onDidChangeState((state) => {
      if (state === 'ready') refresh();
    }),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration('gpt2Heads')) refresh(true);
    }),
    vscode.commands.registerCommand('gpt2Heads.refreshEndpointStatus', async () => {
      refresh(true);
      await pending;
      return { text: item.text, tooltip: item.tooltip, visible: endpointSettings() !== undefined };
    }),
  ];
}
