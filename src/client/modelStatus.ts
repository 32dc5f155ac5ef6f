import * as vscode from 'vscode';
import {
  headRoles,
  methods,
  taskTable,
  type HeadRole,
  type HostStatus,
  type ModelInfo,
} from '../protocol';
import type { FeatureContext } from './context';
import { showError } from './errors';
import { modelSource } from './settings';
import { modelDisplayName } from '../text/modelName';

function megabytes(bytes: number | undefined): string | undefined {
  return bytes === undefined ? undefined : `${(bytes / 1e6).toFixed(1)} MB`;
}

function titles(roles: readonly HeadRole[]): string {
  return roles.map((role) => taskTable[role].title).join(', ');
}

const stateIcon = { ready: '$(check)', error: '$(error)', loading: '$(loading~spin)' } as const;

/** Each fact of a model as its own line, so nothing is cut off. */
function facts(model: ModelInfo): [string, string][] {
  const rows: [string, string | undefined][] = [
    ['State', model.state],
    ['Used for', model.roles.length ? titles(model.roles) : 'no head (not in use)'],
    ['Architecture', model.architecture],
    ['Weights', [model.dtype, model.format].filter(Boolean).join(', ') || undefined],
    [
      'Parameters',
      model.parameterCount !== undefined
        ? `${(model.parameterCount / 1e6).toFixed(2)} M`
        : undefined,
    ],
    ['File size', megabytes(model.fileBytes)],
    ['Context', model.contextLength !== undefined ? `${model.contextLength} tokens` : undefined],
    ['Loaded in', model.loadMs !== undefined ? `${model.loadMs} ms` : undefined],
    ['Backbone', model.sharedBackbone ? 'shared with the other heads' : undefined],
    [
      'Endpoint',
      model.endpoint
        ? `${model.endpoint} (${model.endpointReady ? 'ready' : 'not ready'})`
        : undefined,
    ],
    ['Folder', model.folder],
  ];
  const labels = model.labels ?? [];
  for (let i = 0; i < labels.length; i += 8) {
    rows.push([i === 0 ? `Labels (${labels.length})` : '', labels.slice(i, i + 8).join(', ')]);
  }
  for (const sentence of model.error?.match(/[^.!?]+[.!?]*/g) ?? []) {
    rows.push(['Error', sentence.trim()]);
  }
  return rows.filter((row): row is [string, string] => Boolean(row[1]));
}

type Action = vscode.QuickPickItem & { run?: () => Thenable<unknown> };

const openSetting = (role: HeadRole): Action => ({
  label: `$(gear) Open Setting ${taskTable[role].setting}`,
  description: taskTable[role].title,
  run: () =>
    vscode.commands.executeCommand('workbench.action.openSettings', taskTable[role].setting),
});

/** The model folder: in the system's file manager on a desktop, else its config.json. */
function openFolder(folder: string): Action {
  const local = vscode.env.uiKind === vscode.UIKind.Desktop && !vscode.env.remoteName;
  const uri = vscode.Uri.file(folder);
  return local
    ? {
        label: '$(folder-opened) Open the Model Folder',
        description: folder,
        run: () => vscode.commands.executeCommand('revealFileInOS', uri),
      }
    : {
        label: "$(go-to-file) Open the Model Folder's config.json",
        description: folder,
        run: () => vscode.window.showTextDocument(vscode.Uri.joinPath(uri, 'config.json')),
      };
}

function pickOne(title: string, items: Action[], placeholder: string): void {
  const pick = vscode.window.createQuickPick<Action>();
  pick.title = title;
  pick.placeholder = placeholder;
  pick.items = items;
  pick.matchOnDescription = true;
  pick.onDidHide(() => pick.dispose());
  pick.onDidAccept(() => {
    const run = pick.selectedItems[0]?.run;
    pick.hide();
    if (run) void run();
  });
  pick.show();
}

function showDetails(model: ModelInfo): void {
  const actions: Action[] = [
    ...(model.folder ? [openFolder(model.folder)] : []),
    ...model.roles.map(openSetting),
  ];
  const rows: Action[] = facts(model).map(([name, value]) => ({ label: value, description: name }));
  pickOne(
    vscode.l10n.t('GPT-2 Heads: {0}', model.source),
    [...actions, { label: 'Details', kind: vscode.QuickPickItemKind.Separator }, ...rows],
    vscode.l10n.t('Pick an action, or read the details'),
  );
}

function modelItem(model: ModelInfo): Action {
  const summary = [
    model.architecture,
    model.dtype,
    model.parameterCount !== undefined
      ? `${(model.parameterCount / 1e6).toFixed(1)}M parameters`
      : undefined,
    model.endpoint
      ? `runs on ${model.endpoint} (${model.endpointReady ? 'ready' : 'not ready'})`
      : undefined,
  ].filter(Boolean);
  return {
    label: `${stateIcon[model.state]} ${modelDisplayName(model.source)}`,
    // The full path only here: hovers and the status bar name a folder by its own name.
    description: [
      model.roles.length ? `used for ${titles(model.roles)}` : 'not in use',
      modelDisplayName(model.source) === model.source ? undefined : model.source,
    ]
      .filter(Boolean)
      .join(' · '),
    detail: model.error ?? `${summary.join(' · ')} — pick for every detail`,
    run: async () => showDetails(model),
  };
}

/** "Show Model Status": every model the host holds, each head's setting, and the host's memory. */
export async function showModelStatus(ctx: FeatureContext): Promise<HostStatus | undefined> {
  try {
    const status = await ctx.host.request(methods.status);
    const held = new Set(status.models.flatMap((model) => model.roles));
    const waiting: Action[] = headRoles
      .filter((role) => !held.has(role))
      .map((role) => {
        const source = modelSource(role);
        return {
          ...openSetting(role),
          label: `$(circle-outline) ${taskTable[role].title}`,
          description: source || 'no model set',
          detail: source
            ? `Loads on first use. Pick to open ${taskTable[role].setting}.`
            : `Not set. Pick to open ${taskTable[role].setting}.`,
        };
      });
    const health = ctx.host.status;
    const windows = status.clients > 1 ? `, serving ${status.clients} windows` : '';
    const memory = `model host pid ${status.pid}, ${megabytes(status.rssBytes)} resident${windows}`;
    pickOne(
      vscode.l10n.t('GPT-2 Heads: models ({0})', memory),
      [
        ...status.models.map(modelItem),
        ...(waiting.length
          ? [{ label: 'Heads not loaded', kind: vscode.QuickPickItemKind.Separator }, ...waiting]
          : []),
      ],
      health?.health === 'error' && health.message
        ? health.message
        : status.models.length
          ? vscode.l10n.t('Pick a model for its details, its folder and its setting')
          : vscode.l10n.t('No model is loaded yet: models load when a feature first needs them.'),
    );
    return status;
  } catch (error) {
    showError(error, ctx.log);
    return undefined;
  }
}
