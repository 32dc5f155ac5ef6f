import * as vscode from 'vscode';
import { methods, type HostStatus, type ModelInfo } from '../protocol';
import type { FeatureContext } from './context';
import { showError } from './errors';
import { modelDisplayName } from '../text/modelName';

function megabytes(bytes: number | undefined): string | undefined {
  return bytes === undefined ? undefined : `${(bytes / 1e6).toFixed(1)} MB`;
}

function describe(model: ModelInfo): vscode.QuickPickItem {
  const facts = [
    model.architecture,
    model.dtype,
    model.format,
    model.parameterCount !== undefined
      ? `${(model.parameterCount / 1e6).toFixed(2)}M parameters`
      : undefined,
    megabytes(model.fileBytes),
    model.contextLength !== undefined ? `context ${model.contextLength}` : undefined,
    model.loadMs !== undefined ? `loaded in ${model.loadMs} ms` : undefined,
    model.sharedBackbone ? 'backbone shared with other heads' : undefined,
  ].filter(Boolean);
  const labels = model.labels?.length ? `labels: ${model.labels.join(', ')}` : '';
  return {
    label: `${model.state === 'ready' ? '$(check)' : model.state === 'error' ? '$(error)' : '$(loading~spin)'} ${modelDisplayName(model.source)}`,
    // The full path only here: hovers and the status bar name a folder by its own name.
    description: [
      model.roles.length ? `used for ${model.roles.join(', ')}` : 'not in use',
      modelDisplayName(model.source) === model.source ? undefined : model.source,
    ]
      .filter(Boolean)
      .join(' · '),
    detail: model.error ?? [facts.join(' · '), labels].filter(Boolean).join(' — '),
  };
}

/** "Show Model Status": every loaded model with its facts, and the host's memory. */
export async function showModelStatus(ctx: FeatureContext): Promise<HostStatus | undefined> {
  try {
    const status = await ctx.host.request(methods.status);
    const items = status.models.map(describe);
    const memory = `model host pid ${status.pid}, ${megabytes(status.rssBytes)} resident`;
    const pick = vscode.window.createQuickPick();
    pick.title = vscode.l10n.t('GPT-2 Heads: models ({0})', memory);
    pick.placeholder = items.length
      ? 'Loaded models'
      : 'No model is loaded yet: models load when a feature first needs them.';
    pick.items = items;
    pick.onDidHide(() => pick.dispose());
    pick.onDidAccept(() => pick.hide());
    pick.show();
    return status;
  } catch (error) {
    showError(error, ctx.log);
    return undefined;
  }
}
